"""Settings for the operator marketplace.

Every deployment knob comes from an environment variable, so the same code runs
as the embedded default (`make run`: SQLite, a filesystem broker, the sandbox
cluster) and in production (PostgreSQL, Redis, gunicorn, real clusters).
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from kombu import Queue

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name, default=""):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_int(name, default):
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


DEBUG = env_bool("DJANGO_DEBUG", False)

# Where the embedded default keeps its state (SQLite file, broker folders, beat schedule).
DATA_DIR = Path(os.environ.get("DATA_DIR", BASE_DIR / "var")).resolve()

# Development gets a fixed, clearly insecure key; production must set SECRET_KEY
# (Django refuses to start with an empty one).
SECRET_KEY = os.environ.get("SECRET_KEY") or (
    "django-insecure-development-key-do-not-use-in-production" if DEBUG else ""
)
if not SECRET_KEY:
    raise ImproperlyConfigured("Set SECRET_KEY (or DJANGO_DEBUG=1 for development).")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "csp",
    "axes",  # before accounts: accounts re-registers axes' lockout admin with an audited unlock
    "core",
    "marketplace",
    "accounts",
    "clusters",
    "markdownx",
    "assets",
    "approvals",
    "orders",
    "provisioning",
    "instances",
    "django_celery_beat",  # beat's schedule and last runs in the database (scale-out below)
]

MIDDLEWARE = [
    # First: the request id and log context cover everything below, and the timing too.
    "marketplace.middleware.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",  # Content-Security-Policy (the CSP block below)
    "django_htmx.middleware.HtmxMiddleware",
    "accounts.middleware.ActiveTenantMiddleware",
    "core.middleware.DomainErrorMiddleware",
    "core.middleware.ApiInUtcMiddleware",
    # Last, as axes asks: it turns a refused sign-in into a 429 (accounts.lockout).
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "marketplace.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.workspace",
            ],
        },
    },
]

WSGI_APPLICATION = "marketplace.wsgi.application"
ASGI_APPLICATION = "marketplace.asgi.application"

# Database: DATABASE_URL (postgres://… via psycopg 3), else an embedded SQLite file.
DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{DATA_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # The web server, the worker and beat share the file: WAL lets readers run
    # beside a writer, IMMEDIATE transactions avoid upgrade deadlocks.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# Brute-force protection (django-axes): LOGIN_FAILURE_LIMIT failed sign-ins of one username
# from one client address lock that pair for LOGIN_COOLOFF_SECONDS, on the login page, the
# admin's and the API token endpoint alike. The cool-off runs from the failure that locked
# it (attempts while locked are refused, not counted). Platform admins unlock sooner (Django
# admin → Access attempts → "Unlock", or `manage.py unlock_login USERNAME`), audited.
AXES_ENABLED = env_bool("LOGIN_LOCKOUT_ENABLED", True)
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(seconds=env_int("LOGIN_COOLOFF_SECONDS", 900))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "accounts.lockout.lockout_response"
AXES_CLIENT_IP_CALLABLE = "accounts.lockout.client_ip"
AXES_DISABLE_ACCESS_LOG = True  # successful sign-ins are not kept (the lockouts are audited)
AXES_VERBOSE = False
# Proxies in front of the web process that append to X-Forwarded-For (an ingress: 1). The
# lockout and the API throttles read the client address through them; 0 trusts no header.
TRUSTED_PROXIES = env_int("TRUSTED_PROXIES", 0)

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# axes' first (it only refuses locked-out sign-ins); then ours, which loads the session's
# user with the header's admin flag and unread count in one query (accounts.backends);
# Django's own stays listed so sessions signed in through it before stay valid.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "accounts.backends.HeaderUserBackend",
    "django.contrib.auth.backends.ModelBackend",
]

LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "accounts:login"

# Internationalisation: English and Simplified Chinese, picked from the browser's
# Accept-Language unless the user chose one with the switcher (cookie).
LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", DATA_DIR / "media"))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# Serve static files from the app directories too, so tests and `runserver`
# need no collectstatic step.
WHITENOISE_USE_FINDERS = True

# Redis, when configured, carries the Celery broker, results and the cache.
REDIS_URL = os.environ.get("REDIS_URL", "")

if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# Celery: Redis in production, kombu's filesystem transport (no server) by default.
CELERY_BROKER_DIR = DATA_DIR / "broker"
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL") or REDIS_URL or "filesystem://"
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND") or REDIS_URL or None
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_DIR / "queue"),
        "data_folder_out": str(CELERY_BROKER_DIR / "queue"),
        "control_folder": str(CELERY_BROKER_DIR / "control"),
        "store_processed": False,
        "polling_interval": 0.2,
    }
else:
    # A job whose worker died unacknowledged is delivered again after this many seconds.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 600)
    }
# Three queues, so neither a burst of purchases nor a slow cluster's syncs make the other
# (or a web request's small job) wait: install jobs, periodic syncs, and the default one
# for everything else. A worker started without -Q consumes all three (task_queues).
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("CELERY_DEFAULT_QUEUE", "celery")
INSTALL_QUEUE = os.environ.get("CELERY_INSTALL_QUEUE", "installs")
SYNC_QUEUE = os.environ.get("CELERY_SYNC_QUEUE", "sync")
INSTALL_TASKS = (
    "provisioning.paid_orders.install_paid_order",
    "provisioning.tasks.install_operator",
    "provisioning.tasks.apply_subscription",
    "provisioning.tasks.approve_install_plan",
    "provisioning.tasks.uninstall_operator",
)
SYNC_TASKS = (
    "provisioning.tasks.sync_installations",
    "provisioning.tasks.sync_cluster",
    "clusters.tasks.sync_catalog_sources",
    "clusters.tasks.sync_cluster_catalogs",
    "instances.tasks.sync_all_instances",
    "instances.tasks.sync_instances",
    "instances.tasks.poll_stats",
)


def celery_queues(default: str, installs: str, sync: str) -> tuple[list[Queue], dict[str, dict]]:
    """`task_queues` and `task_routes` for these queue names (tests use private ones)."""
    routes = {name: {"queue": installs} for name in INSTALL_TASKS}
    routes.update({name: {"queue": sync} for name in SYNC_TASKS})
    return [Queue(default), Queue(installs), Queue(sync)], routes


CELERY_TASK_QUEUES, CELERY_TASK_ROUTES = celery_queues(
    CELERY_TASK_DEFAULT_QUEUE, INSTALL_QUEUE, SYNC_QUEUE
)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
CELERY_TIMEZONE = TIME_ZONE
# How often the worker follows CatalogSources on the clusters (seconds).
CATALOG_SYNC_INTERVAL = env_int("CATALOG_SYNC_INTERVAL", 10)
# A catalog OLM cannot list stops resolution in every namespace that sees it (OLM's
# resolver fails on any erroring catalog in scope): one failed this long is withdrawn from
# the cluster until its provider redeploys it.
CATALOG_WITHDRAW_AFTER = env_int("CATALOG_WITHDRAW_AFTER", 300)
# How often beat follows a cluster's installations (seconds); a cluster where nothing
# changed for a while backs off to once a minute. An install job lost (never sent, or its
# worker killed while running it) is sent again after INSTALL_RESUBMIT_AFTER seconds; one
# waiting in the queue never is. One sync per cluster runs at a time (a lease of
# INSTALL_SYNC_LOCK_SECONDS) and one is queued; a queued one not started within
# INSTALL_SYNC_QUEUED_STALE seconds is taken for lost and sent again.
INSTALL_SYNC_INTERVAL = env_int("INSTALL_SYNC_INTERVAL", 3)
INSTALL_RESUBMIT_AFTER = env_int("INSTALL_RESUBMIT_AFTER", 60)
INSTALL_SYNC_LOCK_SECONDS = env_int("INSTALL_SYNC_LOCK_SECONDS", 120)
INSTALL_SYNC_QUEUED_STALE = env_int("INSTALL_SYNC_QUEUED_STALE", 30)
# A tick reads the Events of installations under way or changed within the last
# INSTALL_EVENTS_AFTER_CHANGE seconds, and everyone's every INSTALL_EVENTS_SWEEP_INTERVAL.
INSTALL_EVENTS_AFTER_CHANGE = env_int("INSTALL_EVENTS_AFTER_CHANGE", 120)
INSTALL_EVENTS_SWEEP_INTERVAL = env_int("INSTALL_EVENTS_SWEEP_INTERVAL", 300)
# Cluster lists come in pages of KUBE_LIST_PAGE_SIZE objects (limit/continue). Objects of
# up to KUBE_PER_NAMESPACE_LISTS_UP_TO namespaces are listed namespace by namespace (the
# answer grows with our installations, not with the cluster); more, one cluster-wide list,
# falling back to per namespace when the credentials may not list cluster-wide.
KUBE_LIST_PAGE_SIZE = env_int("KUBE_LIST_PAGE_SIZE", 500)
KUBE_PER_NAMESPACE_LISTS_UP_TO = env_int("KUBE_PER_NAMESPACE_LISTS_UP_TO", 8)
# A paid order with no installation after PAID_ORDER_RECONCILE_AFTER seconds lost its job
# (a process died between commit and enqueue): beat enqueues it again every
# PAID_ORDER_RECONCILE_INTERVAL seconds.
PAID_ORDER_RECONCILE_AFTER = env_int("PAID_ORDER_RECONCILE_AFTER", 60)
PAID_ORDER_RECONCILE_INTERVAL = env_int("PAID_ORDER_RECONCILE_INTERVAL", 30)
# Orders: unpaid ones expire ORDER_PAYMENT_DEADLINE_HOURS after they were placed (beat
# checks every ORDER_EXPIRY_INTERVAL seconds); the platform keeps PLATFORM_COMMISSION_RATE
# of each payment (a decimal string, e.g. "0.05"; never a float).
ORDER_PAYMENT_DEADLINE_HOURS = env_int("ORDER_PAYMENT_DEADLINE_HOURS", 24)
ORDER_EXPIRY_INTERVAL = env_int("ORDER_EXPIRY_INTERVAL", 60)
PLATFORM_COMMISSION_RATE = os.environ.get("PLATFORM_COMMISSION_RATE", "0")
# Operand instances (MemcachedCluster): the most replicas a buyer may ask for; how often
# the worker follows unfinished instances (seconds; settled ones every
# INSTANCE_SETTLED_SYNC_INTERVAL); memcached `stats` polling and how long points are kept;
# the 验证访问 / stats connect timeout (seconds).
MEMCACHED_MAX_REPLICAS = env_int("MEMCACHED_MAX_REPLICAS", 10)
INSTANCE_SYNC_INTERVAL = env_int("INSTANCE_SYNC_INTERVAL", 3)
INSTANCE_SETTLED_SYNC_INTERVAL = env_int("INSTANCE_SETTLED_SYNC_INTERVAL", 30)
MEMCACHED_STATS_INTERVAL = env_int("MEMCACHED_STATS_INTERVAL", 60)
MEMCACHED_STATS_RETENTION_DAYS = env_int("MEMCACHED_STATS_RETENTION_DAYS", 8)
MEMCACHED_VERIFY_TIMEOUT = env_int("MEMCACHED_VERIFY_TIMEOUT", 3)
# A StatefulSet rollout is called stuck once a pod of the old revision has been Pending this
# many seconds while a newer revision waits (the instance page then offers to delete it).
INSTANCE_STUCK_ROLLOUT_AFTER = env_int("INSTANCE_STUCK_ROLLOUT_AFTER", 30)
# Only for clusters the platform cannot reach (the worker runs outside their network):
# "namespace/name" → "host:port" that 验证访问 and stats polling use instead of the
# instance's own address (the pods are then not read). Empty by default; from the
# environment as "my-mem/mm2=127.0.0.1:11211,two/cache=127.0.0.1:11212".
MEMCACHED_ACCESS_OVERRIDES = dict(
    item.split("=", 1) for item in env_list("MEMCACHED_ACCESS_OVERRIDES") if "=" in item
)


def _expires(interval: int) -> int:
    """How long a periodic job may wait for a worker before it is dropped. One interval was
    too tight: behind a busy worker every job waited longer than that, so all of them were
    dropped and the work starved (catalogs never followed under load). A few intervals bound
    the pile-up without starving it; the jobs themselves are single-flight or idempotent."""
    return max(3 * interval, 15)


CATALOG_SYNC_EXPIRES = _expires(CATALOG_SYNC_INTERVAL)
INSTANCE_SYNC_EXPIRES = _expires(INSTANCE_SYNC_INTERVAL)

CELERY_BEAT_SCHEDULE = {
    "sync-catalog-sources": {
        "task": "clusters.tasks.sync_catalog_sources",
        "schedule": CATALOG_SYNC_INTERVAL,
        "options": {"expires": CATALOG_SYNC_EXPIRES},
    },
    "sync-installations": {
        "task": "provisioning.tasks.sync_installations",
        "schedule": INSTALL_SYNC_INTERVAL,
        # A sync not started within a few intervals is dropped: a later one does its work.
        "options": {"expires": _expires(INSTALL_SYNC_INTERVAL)},
    },
    "reconcile-paid-orders": {
        "task": "provisioning.paid_orders.reconcile_paid_orders",
        "schedule": PAID_ORDER_RECONCILE_INTERVAL,
        "options": {"expires": _expires(PAID_ORDER_RECONCILE_INTERVAL)},
    },
    "expire-overdue-orders": {
        "task": "orders.tasks.expire_overdue_orders",
        "schedule": ORDER_EXPIRY_INTERVAL,
    },
    "sync-instances": {
        "task": "instances.tasks.sync_all_instances",
        "schedule": INSTANCE_SYNC_INTERVAL,
    },
    "poll-memcached-stats": {
        "task": "instances.tasks.poll_stats",
        "schedule": MEMCACHED_STATS_INTERVAL,
    },
    # Images an abandoned asset form kept for its next submit (assets.uploads).
    "purge-kept-uploads": {
        "task": "assets.tasks.purge_kept_uploads",
        "schedule": 3600,
    },
}

# Scale-out: web and worker keep nothing on a local disk or in local memory, so several
# replicas of each can run. Beat's schedule and last runs live in the database
# (django-celery-beat; CELERY_BEAT_SCHEDULE above is written into it when beat starts),
# not in a celerybeat-schedule file; run exactly one beat. Single-flight locks are
# database leases (provisioning ClusterSync, instances InstanceSync); the cache (Redis
# when REDIS_URL is set) only throttles. Uploads: STORAGE_BACKEND=s3 keeps them in an
# S3-compatible bucket (AWS_S3_ENDPOINT_URL, e.g. https://minio:9000; AWS_STORAGE_BUCKET_NAME;
# AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY; AWS_S3_REGION_NAME), served through /media/;
# the local filesystem (MEDIA_ROOT) is the embedded default.
CELERY_BEAT_SCHEDULER = os.environ.get(
    "CELERY_BEAT_SCHEDULER", "django_celery_beat.schedulers:DatabaseScheduler"
)
for _entry in CELERY_BEAT_SCHEDULE.values():
    if "expires" in _entry.get("options", {}):  # the database scheduler's name for it
        _entry["options"]["expire_seconds"] = _entry["options"]["expires"]
DJANGO_CELERY_BEAT_TZ_AWARE = USE_TZ
STORAGE_BACKEND = os.environ.get("STORAGE_BACKEND", "filesystem").strip().lower()
if STORAGE_BACKEND == "s3":
    from urllib.parse import urlsplit as _urlsplit

    _s3 = _urlsplit(os.environ.get("AWS_S3_ENDPOINT_URL", "https://s3.amazonaws.com"))
    STORAGES["default"] = {"BACKEND": "core.storage.S3MediaStorage"}
    MINIO_STORAGE_ENDPOINT = _s3.netloc
    MINIO_STORAGE_USE_HTTPS = _s3.scheme != "http"
    MINIO_STORAGE_ACCESS_KEY = os.environ.get("AWS_ACCESS_KEY_ID", "")
    MINIO_STORAGE_SECRET_KEY = os.environ.get("AWS_SECRET_ACCESS_KEY", "")
    MINIO_STORAGE_REGION = os.environ.get("AWS_S3_REGION_NAME") or None
    MINIO_STORAGE_MEDIA_BUCKET_NAME = os.environ.get("AWS_STORAGE_BUCKET_NAME", "marketplace")
    MINIO_STORAGE_AUTO_CREATE_MEDIA_BUCKET = env_bool("AWS_AUTO_CREATE_BUCKET", False)
    MINIO_STORAGE_AUTO_CREATE_MEDIA_POLICY = "NONE"  # private: the web process streams it
    MINIO_STORAGE_MEDIA_USE_PRESIGNED = True
elif STORAGE_BACKEND != "filesystem":
    raise ImproperlyConfigured("STORAGE_BACKEND must be filesystem or s3.")

# REST API: token (scripts) and session (browser) authentication, one error shape. Token
# comes first: the first class names the challenge, so an anonymous call is a 401 with
# `WWW-Authenticate: Token` (session authentication has none and would make it a 403).
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "core.api.StandardPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_SCHEMA_CLASS": "core.schema.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    # Throttles per scope (N/second|minute|hour|day; empty switches a scope off); over the
    # rate a call is a 429 with Retry-After. Cached in the default cache (Redis when set).
    "DEFAULT_THROTTLE_CLASSES": ["core.throttling.AnonThrottle", "core.throttling.UserThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("API_THROTTLE_ANON", "120/minute") or None,
        "user": os.environ.get("API_THROTTLE_USER", "1200/minute") or None,
        "sign_in": os.environ.get("API_THROTTLE_SIGN_IN", "20/minute") or None,
    },
    "NUM_PROXIES": TRUSTED_PROXIES,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Operator Marketplace API",
    "DESCRIPTION": "Every screen of the marketplace has a twin here.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.schema.document_enum_case",
    ],
    "ENUM_NAME_OVERRIDES": {
        # The four "other info" fields share one Markdown-or-link choice: one enum.
        "ContentModeEnum": "assets.models.ContentMode",
        # Versions and approval requests both have a `status`: each keeps its own name.
        "StatusEnum": "assets.models.AssetVersion.Status",
        "ApprovalStatusEnum": "approvals.models.ApprovalRequest.Status",
        "ApprovalKindEnum": "approvals.models.ApprovalRequest.Kind",
        # Timeline entries and image scans both have a `source`.
        "SourceEnum": "clusters.models.EventSource",
        "ImageScanSourceEnum": "assets.models.ImageScan.Source",
        # A cluster's default exit and its named exits share the Service types.
        "ExternalAccessEnum": "clusters.models.Cluster.ExternalAccess",
    },
}

# Provider uploads (asset icons and screenshots): capped in bytes and in decoded pixels
# (decompression bombs), re-encoded with Pillow. SERVE_MEDIA lets Django itself serve
# MEDIA_ROOT (development, the embedded default, or a deployment without a media server).
ASSET_UPLOAD_MAX_BYTES = env_int("ASSET_UPLOAD_MAX_BYTES", 2 * 1024 * 1024)
ASSET_IMAGE_MAX_PIXELS = env_int("ASSET_IMAGE_MAX_PIXELS", 4096 * 4096)
# Image security scans (资产镜像安全扫描结果): the largest Trivy JSON report accepted; a
# command the worker runs per image of a new version ("{image}" is replaced by the
# reference, no shell), e.g. "trivy image --format json --quiet {image}" (empty: off),
# and its timeout; LISTING_MAX_SEVERITY (UNKNOWN|LOW|MEDIUM|HIGH|CRITICAL, empty: off)
# blocks approving a listing while an image has a finding above it.
IMAGE_SCAN_REPORT_MAX_BYTES = env_int("IMAGE_SCAN_REPORT_MAX_BYTES", 5 * 1024 * 1024)
IMAGE_SCANNER_COMMAND = os.environ.get("IMAGE_SCANNER_COMMAND", "")
IMAGE_SCANNER_TIMEOUT = env_int("IMAGE_SCANNER_TIMEOUT", 600)
LISTING_MAX_SEVERITY = os.environ.get("LISTING_MAX_SEVERITY", "").strip().upper()
SERVE_MEDIA = env_bool("SERVE_MEDIA", DEBUG or STORAGE_BACKEND == "s3")
# django-markdownx: live preview through our sanitising renderer; its image upload is
# switched off (the endpoint refuses: screenshots have their own validated field).
MARKDOWNX_MARKDOWNIFY_FUNCTION = "assets.markdown.render_markdown"
MARKDOWNX_URLS_PATH = "/provider/assets/markdown/preview/"
MARKDOWNX_UPLOAD_URLS_PATH = "/provider/assets/markdown/upload/"
MARKDOWNX_EDITOR_RESIZABLE = False
# Field-level encryption keys (MultiFernet: the first encrypts, all decrypt).
FIELD_ENCRYPTION_KEYS = env_list("FIELD_ENCRYPTION_KEYS") or env_list("FIELD_ENCRYPTION_KEY")

EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "marketplace@localhost")

# Security: strict by default outside DEBUG; a TLS-terminating proxy sets
# X-Forwarded-Proto. SECURE_SSL_REDIRECT=0 only behind such a proxy that redirects itself.
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SESSION_COOKIE_SAMESITE = os.environ.get("SESSION_COOKIE_SAMESITE", "Lax")
# The language switcher's cookie (django_language) follows the session cookie: Secure in
# production, the same SameSite, and no script reads it (HttpOnly).
LANGUAGE_COOKIE_SECURE = env_bool("LANGUAGE_COOKIE_SECURE", SESSION_COOKIE_SECURE)
LANGUAGE_COOKIE_SAMESITE = os.environ.get("LANGUAGE_COOKIE_SAMESITE", SESSION_COOKIE_SAMESITE)
LANGUAGE_COOKIE_HTTPONLY = env_bool("LANGUAGE_COOKIE_HTTPONLY", True)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
CSRF_COOKIE_HTTPONLY = env_bool("CSRF_COOKIE_HTTPONLY", True)  # pages send the token from the form
SECURE_REFERRER_POLICY = os.environ.get("SECURE_REFERRER_POLICY", "same-origin")

# Content-Security-Policy (django-csp): no inline script, no eval, no inline style, nothing
# from other hosts. Scripts live in static files (page data travels in json_script
# elements); htmx is configured through <meta name="htmx-config"> to need neither eval nor
# its inline indicator styles. Images from other hosts in provider Markdown are dropped
# unless their host is in MARKDOWN_IMAGE_HOSTS (empty by default: buyers' browsers load no
# third-party pixels); img-src allows exactly those hosts besides our own. The API docs
# pages relax the policy for themselves only (marketplace/urls.py).
MARKDOWN_IMAGE_HOSTS = [host.lower() for host in env_list("MARKDOWN_IMAGE_HOSTS")]
# Where browsers report violations (env CSP_REPORT_URI; a setting named CSP_* would be
# taken by django-csp for its pre-4.0 format and refused).
_csp_report_uri = os.environ.get("CSP_REPORT_URI", "")
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", *(f"https://{host}" for host in MARKDOWN_IMAGE_HOSTS)],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        **({"report-uri": [_csp_report_uri]} if _csp_report_uri else {}),
    },
}

# Observability (README "Configuration"). /metrics answers only with
# `Authorization: Bearer <METRICS_TOKEN>` (404 when unset or wrong); the worker serves its
# own metrics on METRICS_WORKER_PORT (0: not at all), behind the same token when set.
# PROMETHEUS_MULTIPROC_DIR (read by prometheus_client itself) shares counters between the
# processes of one pod. Logs: LOG_FORMAT=json (production default) or plain (DEBUG default),
# every line with the request id, user and tenant, in the worker the job and its objects.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")
METRICS_WORKER_PORT = env_int("METRICS_WORKER_PORT", 0)
LOG_FORMAT = (os.environ.get("LOG_FORMAT") or ("plain" if DEBUG else "json")).strip().lower()
if LOG_FORMAT not in ("json", "plain"):
    raise ImproperlyConfigured("LOG_FORMAT is json or plain.")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"()": "core.observability.PlainFormatter"},
        "json": {"()": "core.observability.JsonFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
