# Build the wheel (migrations and demo assets inside), then install it alone, with the
# versions constraints.txt pins, and run as an unprivileged user.
FROM python:3.11-slim AS build
WORKDIR /src
COPY . .
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
COPY constraints.txt /tmp/constraints.txt
COPY --from=build /wheels /tmp/wheels
RUN pip install --no-cache-dir -c /tmp/constraints.txt /tmp/wheels/*.whl \
    && rm -rf /tmp/wheels /tmp/constraints.txt \
    && useradd --system --uid 10001 --create-home --home-dir /var/lib/tracker tracker
USER tracker
WORKDIR /var/lib/tracker
EXPOSE 8080
CMD ["tracker", "serve", "--bind", "0.0.0.0:8080"]
