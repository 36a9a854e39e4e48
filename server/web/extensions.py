"""Flask extensions, created here and attached to the app in ``create_app``."""

from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message_category = "info"
# No default limits: the log-in and sign-up views say what they count (server/web/auth.py).
# The client address is the proxy's X-Forwarded-For once TRUSTED_PROXIES says to believe it.
limiter = Limiter(key_func=get_remote_address)
