"""Small read/write functions over the models: the only place that builds queries.

One module per concept; everything is re-exported here, so callers write
``repository.claim_pending(...)``.
"""
from tracker.repository.accounts import *  # noqa: F401,F403
from tracker.repository.backlog import *  # noqa: F401,F403
from tracker.repository.deliveries import *  # noqa: F401,F403
from tracker.repository.inbox import *  # noqa: F401,F403
from tracker.repository.operations import *  # noqa: F401,F403
from tracker.repository.suppressions import *  # noqa: F401,F403
from tracker.repository.webhooks import *  # noqa: F401,F403
from tracker.repository.ses_setup import *  # noqa: F401,F403
