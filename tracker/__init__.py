"""Email delivery status tracker: provider events in, per-recipient statuses out."""
from __future__ import annotations

from flask import Flask

from tracker.config import Config


def create_app(config: Config | None = None, *, certificates=None, confirmer=None, waker=None) -> Flask:
    """Build the app from ``config`` (default: the environment); tests inject the outside world."""
    from tracker.http import errors
    from tracker.pipeline import ingest
    from tracker.http.api.admin import blueprint as admin_api
    from tracker.http.compat.infobip import views as compat_infobip, views_v4 as compat_infobip_v4
    from tracker.http.compat.postman import views as compat_postman
    from tracker.http.compat.sendcloud import views as compat_sendcloud
    from tracker.http import input_guard, json_out, key_cache, page_marks, ratelimit, request_ids
    from tracker.adapters import logs
    from tracker.http.compat.elevate.views import blueprint as elevate_api
    from tracker.http.dashboard import base as dashboard_pages
    from tracker.http.api.messages import blueprint as messages_api
    from tracker.http.api.openapi import blueprint as openapi
    from tracker.http.api.health import blueprint as health
    from tracker.http.api.native import blueprint as native_api
    from tracker.http.api.suppressions import blueprint as suppressions_api
    from tracker.http.api.stats import blueprint as stats_api
    from tracker.http.api.webhooks import blueprint as webhooks_api
    from tracker.adapters.sns_certificates import certificate_store_from_config
    from tracker.db.engine import Database, celery_init_app
    from tracker.http.receivers import sns_fast
    from tracker.http.receivers.sns import blueprint as sns_receiver
    from tracker.http.receivers.webhooks import blueprint as webhook_receivers
    from tracker.services import Services, SourceCache
    from tracker.adapters.sns_subscriptions import HttpSubscriptionConfirmer
    from tracker.adapters.wakeup import CeleryWaker, InProcessWorker

    config = config or Config.from_env()
    logs.setup(config.log_format, config.log_level)  # a no-op where the process set logging up already
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    json_out.install(app)  # jsonify writes with orjson, keys in the views' order
    # "//" in a path (a token holding "%2F") is a 404 in JSON, not an HTML redirect to another URL.
    app.url_map.merge_slashes = False

    db = Database(config.database_url)
    services = Services(
        config=config,
        db=db,
        certificates=certificates or certificate_store_from_config(config.sns_cert_dir),
        confirmer=confirmer or HttpSubscriptionConfirmer(),
        waker=waker,  # type: ignore[arg-type]  # set just below
        sources=SourceCache(db, config.source_cache_seconds),
        page_marks=page_marks.RedisMarks(config.broker_url) if config.broker_url else page_marks.LocalMarks(),
        rate_counters=ratelimit.LocalCounters(),
    )
    if services.waker is None:
        if config.broker_url:
            celery = celery_init_app(app, config.broker_url)
            services.waker = CeleryWaker(celery, config.broker_url)
        else:
            # The embedded default: one thread drains the inbox, another sends webhooks, so
            # a subscriber that hangs never holds up processing.
            from tracker.outbound import sender

            webhooks = InProcessWorker(lambda: sender.send_due(services, services.webhook_settings), interval=2.0)

            def drain_inbox() -> None:
                if ingest.drain(db, services.confirmer, services.settings).webhooks_queued:
                    webhooks.wake()

            services.waker = InProcessWorker(drain_inbox, interval=min(config.sweep_interval, 5.0))
            services.webhook_waker = webhooks
    app.extensions["tracker"] = services
    key_cache.install(app)  # API keys cached per process; revocations reach every process at once

    errors.register(app, styles=[(style.PATHS, style.render_error)
                                 for style in (compat_infobip, compat_infobip_v4, compat_sendcloud, compat_postman,
                                               dashboard_pages)])
    input_guard.register(app)
    sns_fast.install(app)  # inside the request ids: the fast path's requests have theirs too
    request_ids.register(app)
    app.register_blueprint(sns_receiver)
    app.register_blueprint(webhook_receivers)
    app.register_blueprint(native_api)
    app.register_blueprint(suppressions_api)
    app.register_blueprint(stats_api)
    app.register_blueprint(admin_api)
    app.register_blueprint(webhooks_api)
    app.register_blueprint(elevate_api)
    app.register_blueprint(messages_api)
    app.register_blueprint(openapi)
    for compatible in (compat_infobip, compat_infobip_v4, compat_sendcloud, compat_postman):
        app.register_blueprint(compatible.blueprint)
    app.register_blueprint(health)
    from tracker.http import dashboard

    dashboard.register(app)
    return app
