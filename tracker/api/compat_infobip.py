"""(being written) the infobip-compatible read API."""
from flask import Blueprint

blueprint = Blueprint("compat_infobip", __name__)
