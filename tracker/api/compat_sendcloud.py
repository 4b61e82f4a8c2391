"""(being written) the sendcloud-compatible read API."""
from flask import Blueprint

blueprint = Blueprint("compat_sendcloud", __name__)
