"""Small read/write functions over the models: the only place that builds queries.

One module per concept; everything is re-exported here, so callers write
``repository.claim_pending(...)``.
"""
from tracker.db.repository.accounts import *  # noqa: F401,F403
from tracker.db.repository.backlog import *  # noqa: F401,F403
from tracker.db.repository.deliveries import *  # noqa: F401,F403
from tracker.db.repository.delivery_reads import *  # noqa: F401,F403
from tracker.db.repository.health import *  # noqa: F401,F403
from tracker.db.repository.inbox import *  # noqa: F401,F403
from tracker.db.repository.messages import *  # noqa: F401,F403
from tracker.db.repository.locks import *  # noqa: F401,F403
from tracker.db.repository.operations import *  # noqa: F401,F403
from tracker.db.repository.suppressions import *  # noqa: F401,F403
from tracker.db.repository.webhooks import *  # noqa: F401,F403
from tracker.db.repository.ses_setup import *  # noqa: F401,F403
from tracker.db.repository.paging import *  # noqa: F401,F403
from tracker.db.repository.compat_filters import *  # noqa: F401,F403
from tracker.db.repository.compat_elevate import *  # noqa: F401,F403
from tracker.db.repository.compat_infobip import *  # noqa: F401,F403
from tracker.db.repository.compat_postman import *  # noqa: F401,F403
from tracker.db.repository.compat_sendcloud import *  # noqa: F401,F403
from tracker.db.repository.dashboard import *  # noqa: F401,F403
from tracker.db.repository.stats import *  # noqa: F401,F403
from tracker.db.repository.reputation import *  # noqa: F401,F403
