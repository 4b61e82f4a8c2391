"""The WSGI app gunicorn serves (`tracker serve`): configured from the environment."""
from tracker import create_app

app = create_app()
