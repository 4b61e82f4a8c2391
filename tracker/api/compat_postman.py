"""(being written) the postman-compatible read API."""
from flask import Blueprint

blueprint = Blueprint("compat_postman", __name__)
