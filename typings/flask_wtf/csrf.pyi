# Flask-WTF 1.2's flask_wtf.csrf: the parts Kijun uses.
from flask_wtf import CSRFProtect as CSRFProtect

def generate_csrf(secret_key: str | None = None, token_key: str | None = None) -> str: ...
