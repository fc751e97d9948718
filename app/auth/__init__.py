"""Sign-in and sign-out, one-time set-password links, intranet single sign-on and the
language switch (docs/auth.md)."""

from flask import Blueprint

bp = Blueprint("auth", __name__)
