"""Settings for the judicial verification portal, all read from the environment.

With nothing set the portal runs on its embedded default: SQLite and keys under
PORTAL_DATA_DIR, Celery tasks in-process, the ledger sequencer as a thread. Setting
DATABASE_URL switches to production behaviour: nothing is generated, every secret and
key must be given. Any variable may instead be given as a file: NAME_FILE=/run/secrets/x
reads NAME from that file (Docker and Kubernetes secrets), its line end dropped.
"""

import ipaddress
import os
import socket
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from environ.fileaware_mapping import FileAwareMapping

from portal import api_description


class _SecretFiles(FileAwareMapping):
    """The environment, where NAME_FILE names a file holding NAME's value; a secret file's
    final line end is not part of the secret."""

    def __getitem__(self, key: str) -> str:
        value = super().__getitem__(key)
        return value.rstrip("\r\n") if self.env.get(key + "_FILE") else value


class _Env(environ.Env):
    ENVIRON = _SecretFiles()


BASE_DIR = Path(__file__).resolve().parent.parent
env = _Env()

DATA_DIR = Path(env("PORTAL_DATA_DIR", default=str(BASE_DIR / "data")))
# The embedded default is chosen by the absence of a database URL, never by DEBUG.
EMBEDDED = "DATABASE_URL" not in env

DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])
PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[PUBLIC_BASE_URL])
# Whom a litigant should contact when the portal's copy of a record disagrees with the
# ledger (a telephone number or address of the portal's operators); empty: "the portal's
# administrator".
PORTAL_CONTACT = env("PORTAL_CONTACT", default="")
# The bearer token /metrics asks for; empty: /metrics answers only requests from this host.
METRICS_TOKEN = env("METRICS_TOKEN", default="")
if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # Containers sharing the metrics directory each number their processes from 1: name
    # each process's files by host and pid, so that no two write the same file.
    from prometheus_client import values

    values.ValueClass = values.MultiProcessValue(lambda: f"{socket.gethostname()}-{os.getpid()}")


def _embedded_secret_key() -> str:
    """Create (once) and read the secret key kept in the embedded data folder."""
    from django.core.management.utils import get_random_secret_key

    path = DATA_DIR / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(get_random_secret_key())
        path.chmod(0o600)
    return path.read_text().strip()


if "SECRET_KEY" in env:
    SECRET_KEY = env("SECRET_KEY")
elif EMBEDDED:
    SECRET_KEY = _embedded_secret_key()
else:
    raise ImproperlyConfigured("SECRET_KEY must be set when DATABASE_URL is set.")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "anchoring",
    "documents",
    "verification",
    "witness",
    "demo",
]

# portal.middleware: Django's page middleware, skipped on the API under /api/v1/, and the
# API's reference cycles broken once an answer is rendered (docs/operations.md).
MIDDLEWARE = [
    # Who the client is, once per request (plumbing/clients.py), for every later step.
    "plumbing.clients.ClientMiddleware",
    # The Content-Security-Policy of every answer (SECURE_CSP, below), redirects included.
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # A NUL in the path or query string is refused here, before a view looks it up.
    "portal.middleware.RefuseNul",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Each view's limit on request bodies, before anything reads one (plumbing/body_limits.py).
    "plumbing.body_limits.BodyLimitMiddleware",
    "portal.middleware.SessionMiddleware",
    "portal.middleware.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "portal.middleware.CsrfViewMiddleware",
    "portal.middleware.AuthenticationMiddleware",
    "portal.middleware.MessageMiddleware",
    "portal.middleware.XFrameOptionsMiddleware",
    "portal.middleware.BreakApiCycles",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.display.large_text",
                "portal.language.html_lang",
            ],
            # {% load language %}: `in_language`, a bilingual value's half in the reader's language.
            "libraries": {"language": "portal.templatetags.language"},
        },
    },
]

# How long a reader's large-text choice (大字版, portal/display.py) is kept: a year.
DISPLAY_COOKIE_AGE = env.int("DISPLAY_COOKIE_AGE", default=365 * 24 * 3600)

# --- Database -------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{DATA_DIR / 'portal.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    # IMMEDIATE takes the write lock at BEGIN, so two sequencers serialise instead of
    # failing half-way; WAL lets the pages read while a batch is written.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = env.bool("CONN_HEALTH_CHECKS", default=True)
# A per-process pool of PostgreSQL connections (psycopg_pool): opening a connection costs
# 5 to 10 ms of server CPU, which dominated both the court API and verification requests,
# so production pools by default (unless CONN_MAX_AGE keeps connections instead). 0 turns
# it off. Keep processes x DATABASE_POOL_SIZE under the server's max_connections (100 by
# default): a thread holds a connection only while it queries, so 10 serve 200 threads.
_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")
DATABASE_POOL_SIZE = env.int(
    "DATABASE_POOL_SIZE",
    default=10 if _POSTGRES and not DATABASES["default"]["CONN_MAX_AGE"] else 0,
)
if DATABASE_POOL_SIZE and _POSTGRES:
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": DATABASE_POOL_SIZE,
        "timeout": env.float("DATABASE_POOL_TIMEOUT", default=10.0),
    }
# The PostgreSQL roles `manage.py db_roles` grants to (docs/operations.md, "Database
# roles"): the owner of every table, which runs migrate; the web role of gunicorn and the
# Celery workers; the sequencer's role, the only one that writes the ledger. Roles are
# shared by every database of a server, so two deployments on one server name them apart.
DATABASE_OWNER_ROLE = env("DATABASE_OWNER_ROLE", default="portal_owner")
DATABASE_WEB_ROLE = env("DATABASE_WEB_ROLE", default="portal_web")
DATABASE_SEQUENCER_ROLE = env("DATABASE_SEQUENCER_ROLE", default="portal_sequencer")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (the rate limits' counters) ------------------------------------------------
CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://")}

# --- Clients: who sent a request (plumbing/clients.py) --------------------------------
# The proxies in front of the portal, which append their peer's address to
# X-Forwarded-For: how many there always are (0: none, X-Forwarded-For is ignored), and/or
# their networks (CIDR); with networks, a client is read from X-Forwarded-For only when
# the peer itself is in one of them (docs/operations.md, "Clients behind proxies").
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])
for _network in TRUSTED_PROXIES:
    try:
        ipaddress.ip_network(_network.strip(), strict=False)
    except ValueError:
        raise ImproperlyConfigured(f"TRUSTED_PROXIES: {_network!r} is not a network.") from None
# Rate limits count an IPv6 client by its network of this many bits: one host usually has
# a whole /64 to pick addresses from.
RATE_LIMIT_IPV6_PREFIX = env.int("RATE_LIMIT_IPV6_PREFIX", default=64)
if not 0 <= RATE_LIMIT_IPV6_PREFIX <= 128:
    raise ImproperlyConfigured("RATE_LIMIT_IPV6_PREFIX must be between 0 and 128.")


# --- Celery ---------------------------------------------------------------------------
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=None)
# Without a broker, tasks run in the calling process: the embedded default.
CELERY_TASK_ALWAYS_EAGER = CELERY_BROKER_URL is None
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "portal"
CELERY_RESULT_BACKEND = None
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": 2}
# kombu's Redis transport, building one redis-py client per channel instead of one per
# command (portal/broker.py): a task's publish costs about a third less CPU.
if CELERY_BROKER_URL and CELERY_BROKER_URL.startswith("redis://"):
    CELERY_BROKER_TRANSPORT = "portal.broker:Transport"
# Celery's Django fixup closes the database connection before and after every task unless
# this is set (and with prefork it also drops the process's pool), so each task opened a
# new PostgreSQL connection. Reused, a connection is still closed after this many tasks,
# and portal/celery.py checks it between tasks the way Django does between requests.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000) or None

# --- The ledger (anchoring) -----------------------------------------------------------
# The checkpoint origin names the log; by C2SP tlog-tiles it is the read side's URL
# prefix without its scheme, and the signing key carries the same name.
LEDGER_ORIGIN = env("LEDGER_ORIGIN", default=urlsplit(PUBLIC_BASE_URL).netloc + "/ledger")
LEDGER_SIGNING_KEY_FILE = Path(
    env("LEDGER_SIGNING_KEY_FILE", default=str(DATA_DIR / "keys" / "ledger.key"))
)
# Only the embedded default may create its own key; production must be given one.
LEDGER_GENERATE_KEY = env.bool("LEDGER_GENERATE_KEY", default=EMBEDDED)
# "thread": a sequencer thread inside the process that submits (embedded default);
# "celery": integration runs as a beat-scheduled task; "off": this process never integrates.
LEDGER_SEQUENCER = env("LEDGER_SEQUENCER", default="thread" if EMBEDDED else "celery")
if LEDGER_SEQUENCER not in {"thread", "celery", "off"}:
    raise ImproperlyConfigured("LEDGER_SEQUENCER must be 'thread', 'celery' or 'off'.")
LEDGER_BATCH_PERIOD = env.float("LEDGER_BATCH_PERIOD", default=1.0)
LEDGER_BATCH_SIZE = env.int("LEDGER_BATCH_SIZE", default=16384)
LEDGER_SUBMIT_TIMEOUT = env.float("LEDGER_SUBMIT_TIMEOUT", default=30.0)
LEDGER_SUBMIT_POLL = env.float("LEDGER_SUBMIT_POLL", default=0.05)
LEDGER_CHECKPOINT_MAX_AGE = env.int("LEDGER_CHECKPOINT_MAX_AGE", default=2)
LEDGER_LOOKUP_LIMIT = env.int("LEDGER_LOOKUP_LIMIT", default=100)
# Seconds a record or service event row may exist with no ledger entry (its submission
# waiting for a batch) before verification treats the entry as missing, not pending.
LEDGER_PENDING_GRACE = env.float("LEDGER_PENDING_GRACE", default=600)
# Where verification reads the ledger: "local" (this database) or "http" (another
# deployment's read side at LEDGER_BACKEND_URL), and the key it pins the log to.
LEDGER_BACKEND = env("LEDGER_BACKEND", default="local")
if LEDGER_BACKEND not in {"local", "http"}:
    raise ImproperlyConfigured("LEDGER_BACKEND must be 'local' or 'http'.")
LEDGER_BACKEND_URL = env("LEDGER_BACKEND_URL", default=PUBLIC_BASE_URL)
LEDGER_BACKEND_TIMEOUT = env.float("LEDGER_BACKEND_TIMEOUT", default=5.0)
# The log's verifier key (C2SP vkey). Empty: the key of this deployment's own signing key.
LEDGER_VERIFIER_KEY = env("LEDGER_VERIFIER_KEY", default="")
# Tiles whose subtree hashes each process keeps in memory (about 16 KB each).
LEDGER_TILE_CACHE_SIZE = env.int("LEDGER_TILE_CACHE_SIZE", default=2048)
# The log's witnesses and quorum: a C2SP tlog-policy file (`witness <name> <vkey> <url>`,
# `group`, `quorum`; docs/formats.md). Empty: no witnesses, every checkpoint is published
# as signed. The embedded default writes one for its two demo witnesses (demo/alliance.py).
# The embedded default runs DEMO_WITNESSES demo alliance members in its own process, each
# on its own key and SQLite database (demo/alliance.py), and writes their policy here.
DEMO_WITNESSES = env.int("DEMO_WITNESSES", default=2 if EMBEDDED else 0)
if not 0 <= DEMO_WITNESSES <= 3:
    raise ImproperlyConfigured("DEMO_WITNESSES must be 0 to 3.")
_DEMO_POLICY = DATA_DIR / "alliance" / "witness-policy.txt"
LEDGER_WITNESS_POLICY = env(
    "LEDGER_WITNESS_POLICY", default=str(_DEMO_POLICY) if DEMO_WITNESSES else ""
)
for _n in range(1, DEMO_WITNESSES + 1):
    DATABASES[f"demo_witness_{_n}"] = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(DATA_DIR / f"demo-witness-{_n}.sqlite3"),
        "OPTIONS": {"timeout": 20, "init_command": "PRAGMA journal_mode=WAL;"},
    }
DATABASE_ROUTERS = ["demo.alliance.DemoWitnessRouter"] if DEMO_WITNESSES else []
# Seconds the publisher waits for each witness's answer in a round.
LEDGER_WITNESS_TIMEOUT = env.float("LEDGER_WITNESS_TIMEOUT", default=5.0)
# Seconds between rounds while the quorum is not met (witnesses down or refusing).
LEDGER_WITNESS_RETRY = env.float("LEDGER_WITNESS_RETRY", default=1.0)
# Publish a checkpoint without its quorum once LEDGER_WITNESS_TIMEOUT has passed. Off by
# default: such a checkpoint is labelled uncosigned everywhere and never verifies.
LEDGER_WITNESS_FAIL_OPEN = env.bool("LEDGER_WITNESS_FAIL_OPEN", default=False)
# What verification pins: the log key, the witnesses and the quorum, a tlog-policy file.
# Empty: the log key of LEDGER_VERIFIER_KEY (or this deployment's own), with the witnesses
# and quorum of LEDGER_WITNESS_POLICY.
LEDGER_TRUST_POLICY = env("LEDGER_TRUST_POLICY", default="")

# --- Trusted time for checkpoints (anchoring/timestamps.py) ----------------------------
# RFC 3161 timestamp authorities (URLs, comma-separated) asked for a token over each
# published checkpoint, and the PEM files of the CA certificates their tokens must chain
# to (pinned; `trust_policy` prints them as tsa-ca lines). The embedded default runs a
# DEVELOPMENT TSA in its own process (demo/dev_tsa.py), labelled so wherever it appears.
DEMO_TSA = env.bool("DEMO_TSA", default=EMBEDDED)
DEMO_TSA_URL = PUBLIC_BASE_URL.rstrip("/") + "/demo/tsa"
DEMO_TSA_CA_FILE = DATA_DIR / "keys" / "dev-tsa-ca.pem"
LEDGER_TSA_URLS = env.list("LEDGER_TSA_URLS", default=[DEMO_TSA_URL] if DEMO_TSA else [])
LEDGER_TSA_CA_FILES = env.list(
    "LEDGER_TSA_CA_FILES", default=[str(DEMO_TSA_CA_FILE)] if DEMO_TSA else []
)
# Seconds between timestamps of one TSA: each asks for the newest published checkpoint
# at most this often.
LEDGER_TIMESTAMP_PERIOD = env.float("LEDGER_TIMESTAMP_PERIOD", default=1.0)
# Seconds a TSA has to answer; a TSA that fails is asked again after LEDGER_TSA_RETRY
# seconds, doubling after each failure up to LEDGER_TSA_RETRY_MAX.
LEDGER_TSA_TIMEOUT = env.float("LEDGER_TSA_TIMEOUT", default=5.0)
LEDGER_TSA_RETRY = env.float("LEDGER_TSA_RETRY", default=1.0)
LEDGER_TSA_RETRY_MAX = env.float("LEDGER_TSA_RETRY_MAX", default=300.0)

# --- Checkpoints anchored on an EVM chain (anchoring/chain_anchors.py) -----------------
# The chain's JSON-RPC URL; empty: no chain anchors. The embedded default runs a local
# DEVELOPMENT test chain (anvil, installed by scripts/setup when Node.js is present, started
# by `make run`) and anchors there, labelled so wherever it appears.
DEMO_CHAIN = env.bool(
    "DEMO_CHAIN", default=EMBEDDED and (BASE_DIR / "node_modules/.bin/anvil").exists()
)
DEMO_CHAIN_URL = env("DEMO_CHAIN_URL", default="http://127.0.0.1:8545")
DEMO_CHAIN_KEY_FILE = DATA_DIR / "keys" / "dev-chain.key"
LEDGER_CHAIN_RPC_URL = env("LEDGER_CHAIN_RPC_URL", default=DEMO_CHAIN_URL if DEMO_CHAIN else "")
# The chain id transactions are signed for and the node must serve (anvil's: 31337).
LEDGER_CHAIN_ID = env.int("LEDGER_CHAIN_ID", default=31337 if DEMO_CHAIN else 0)
if LEDGER_CHAIN_RPC_URL and LEDGER_CHAIN_ID <= 0:
    raise ImproperlyConfigured("LEDGER_CHAIN_ID must be set with LEDGER_CHAIN_RPC_URL.")
# The sender's private key, hex on one line; the account pays the anchors' gas.
LEDGER_CHAIN_KEY_FILE = env(
    "LEDGER_CHAIN_KEY_FILE", default=str(DEMO_CHAIN_KEY_FILE) if DEMO_CHAIN else ""
)
# Seconds between anchors: the newest published checkpoint at most this often.
LEDGER_CHAIN_ANCHOR_PERIOD = env.float("LEDGER_CHAIN_ANCHOR_PERIOD", default=60.0)
# Blocks (the anchor's own included) before an anchor counts.
LEDGER_CHAIN_CONFIRMATIONS = env.int("LEDGER_CHAIN_CONFIRMATIONS", default=12)
# Seconds the node has to answer; a node that fails is tried again after LEDGER_CHAIN_RETRY
# seconds, doubling after each failure up to LEDGER_CHAIN_RETRY_MAX.
LEDGER_CHAIN_TIMEOUT = env.float("LEDGER_CHAIN_TIMEOUT", default=10.0)
LEDGER_CHAIN_RETRY = env.float("LEDGER_CHAIN_RETRY", default=5.0)
LEDGER_CHAIN_RETRY_MAX = env.float("LEDGER_CHAIN_RETRY_MAX", default=600.0)
# Seconds between rounds of the anchoring loop (reading pending anchors' confirmations).
LEDGER_CHAIN_POLL = env.float("LEDGER_CHAIN_POLL", default=2.0)

CELERY_BEAT_SCHEDULE = {}
if LEDGER_SEQUENCER == "celery":
    CELERY_BEAT_SCHEDULE["ledger-integrate"] = {
        "task": "anchoring.tasks.integrate",
        "schedule": LEDGER_BATCH_PERIOD,
        # A tick that waited longer than one period is superseded by the next one.
        "options": {"expires": LEDGER_BATCH_PERIOD},
    }
    # Publication: the newest signed checkpoint, once its witnesses cosign it (a tick with
    # nothing new to publish does nothing; integrate also queues one after a batch).
    CELERY_BEAT_SCHEDULE["ledger-publish"] = {
        "task": "anchoring.tasks.publish",
        "schedule": LEDGER_WITNESS_RETRY,
        "options": {"expires": LEDGER_WITNESS_RETRY},
    }
    if LEDGER_TSA_URLS:  # trusted time: the TSAs timestamp the newest published checkpoint
        CELERY_BEAT_SCHEDULE["ledger-timestamp"] = {
            "task": "anchoring.tasks.timestamp",
            "schedule": LEDGER_TIMESTAMP_PERIOD,
            "options": {"expires": LEDGER_TIMESTAMP_PERIOD},
        }
    if LEDGER_CHAIN_RPC_URL:  # chain anchors: send, confirm, resend what a reorg dropped
        CELERY_BEAT_SCHEDULE["ledger-chain-anchor"] = {
            "task": "anchoring.tasks.chain_anchor",
            "schedule": LEDGER_CHAIN_POLL,
            "options": {"expires": LEDGER_CHAIN_POLL},
        }
# Seconds between runs of ledger_fsck by Celery beat (verification.tasks.ledger_fsck, on a
# worker that can read the log key); 0: never (run `manage.py ledger_fsck` instead).
LEDGER_FSCK_PERIOD = env.float("LEDGER_FSCK_PERIOD", default=3600.0)
if LEDGER_FSCK_PERIOD > 0:
    CELERY_BEAT_SCHEDULE["ledger-fsck"] = {
        "task": "verification.tasks.ledger_fsck",
        "schedule": LEDGER_FSCK_PERIOD,
        # Runs that could not start within a period are superseded by the next one.
        "options": {"expires": LEDGER_FSCK_PERIOD},
    }

# --- The witness role (witness/) ------------------------------------------------------
# This deployment as a C2SP tlog-witness of other alliance members' logs
# (docs/operations.md, "The witness"). Its name is its cosignature key's name, by default
# its URL prefix without the scheme, as LEDGER_ORIGIN is the ledger's.
WITNESS_NAME = env("WITNESS_NAME", default=urlsplit(PUBLIC_BASE_URL).netloc + "/witness")
WITNESS_SIGNING_KEY_FILE = Path(
    env("WITNESS_SIGNING_KEY_FILE", default=str(DATA_DIR / "keys" / "witness.key"))
)
# Only the embedded default may create its own key; production must be given one.
WITNESS_GENERATE_KEY = env.bool("WITNESS_GENERATE_KEY", default=EMBEDDED)
# The logs it follows: a witness-network log list (logs/v0), loaded into its table on each
# process's first request and whenever the file changes. Empty: only the table's logs.
WITNESS_LOG_LIST = env("WITNESS_LOG_LIST", default="")
# Requests a day of a log added by `witness_add_log` without --qpd.
WITNESS_DEFAULT_QPD = env.int("WITNESS_DEFAULT_QPD", default=86400)
# The largest add-checkpoint body, in bytes: 63 proof lines and a checkpoint with its
# signatures take a few kilobytes.
WITNESS_MAX_BODY_SIZE = env.int("WITNESS_MAX_BODY_SIZE", default=64 * 1024)
# Per-client limit of the witness's machine endpoints (add-checkpoint, logs, checkpoints),
# besides each log's own qpd.
WITNESS_RATE = env("WITNESS_RATE", default="1200/minute") or None
# --- end of the witness role ----------------------------------------------------------

# --- The court side (documents) ------------------------------------------------------
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(DATA_DIR / "media")))
RECORD_MAX_FILE_SIZE = env.int("RECORD_MAX_FILE_SIZE", default=50 * 1024 * 1024)
# The recorded original shown page by page on its record page (where the court allows its
# download), for holders of the paper copy to compare: resolution, the most pages shown,
# and a cap on one page's pixels.
RECORD_PAGE_IMAGE_DPI = env.int("RECORD_PAGE_IMAGE_DPI", default=110)
RECORD_PAGE_IMAGES_MAX = env.int("RECORD_PAGE_IMAGES_MAX", default=30)
RECORD_PAGE_IMAGE_MAX_PIXELS = env.int("RECORD_PAGE_IMAGE_MAX_PIXELS", default=4_000_000)
COURT_API_PAGE_SIZE = env.int("COURT_API_PAGE_SIZE", default=50)
# Seconds a process keeps a court token it looked up (0: a query per request). A token
# revoked elsewhere keeps working in other processes for at most this long.
COURT_TOKEN_CACHE_SECONDS = env.float("COURT_TOKEN_CACHE_SECONDS", default=5.0)
# Token uses are logged in bulk: a process writes its buffered TokenUse rows every this
# many seconds, or at once when it holds COURT_AUDIT_FLUSH_ROWS (0 seconds: one INSERT
# per request). A process killed outright loses at most its last interval's rows.
COURT_AUDIT_FLUSH_SECONDS = env.float("COURT_AUDIT_FLUSH_SECONDS", default=1.0)
COURT_AUDIT_FLUSH_ROWS = env.int("COURT_AUDIT_FLUSH_ROWS", default=1000)
# Most records in one POST /api/v1/records/batch.
COURT_BATCH_MAX = env.int("COURT_BATCH_MAX", default=1000)
# How long a request sent with an Idempotency-Key holds its key before a retry may take it
# over (the holder's process presumed dead). Longer than a request's own work, which
# LEDGER_SUBMIT_TIMEOUT bounds; the takeover is safe either way (documents/idempotency.py).
COURT_IDEMPOTENCY_LEASE = env.float("COURT_IDEMPOTENCY_LEASE", default=60.0)
# Records that keep no file, sent by concurrent requests, are written together: most
# rows one transaction of a process writes (documents/group_commit.py; 1: each alone).
COURT_GROUP_COMMIT_MAX = env.int("COURT_GROUP_COMMIT_MAX", default=500)
# Writes one process runs at once. One makes the largest groups, the least CPU per record
# (measured: docs/benchmarks.md); more only help when each round trip to the database
# is slow (a distant server).
COURT_GROUP_COMMIT_WRITERS = env.int("COURT_GROUP_COMMIT_WRITERS", default=1)
QR_ERROR_CORRECTION = env("QR_ERROR_CORRECTION", default="Q")
if QR_ERROR_CORRECTION not in {"L", "M", "Q", "H"}:
    raise ImproperlyConfigured("QR_ERROR_CORRECTION must be one of L, M, Q, H.")
STAMP_FONT_FILE = env(
    "STAMP_FONT_FILE", default="/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
)
STAMP_FONT_FACE = env("STAMP_FONT_FACE", default="Noto Sans CJK SC")
STAMP_NOTICE = env("STAMP_NOTICE", default="本文书已登记于司法账本 Recorded on the court ledger")
# Font subsets cut from the CJK font (the stamp's, the certificates'), made once each.
FONT_CACHE_DIR = Path(env("FONT_CACHE_DIR", default=str(DATA_DIR / "fonts")))

# --- Public verification -------------------------------------------------------------
VERIFY_MAX_FILE_SIZE = env.int("VERIFY_MAX_FILE_SIZE", default=2 * 1024**3)
VERIFY_MAX_PHOTO_SIZE = env.int("VERIFY_MAX_PHOTO_SIZE", default=20 * 1024**2)
# Most pixels of a QR photo that is decoded: a small file can declare a huge picture (a
# decompression bomb), and decoding one takes about 4 bytes of memory per pixel.
VERIFY_MAX_PHOTO_PIXELS = env.int("VERIFY_MAX_PHOTO_PIXELS", default=50_000_000)
VERIFY_MAX_RETRIES = env.int("VERIFY_MAX_RETRIES", default=5)
# Check a digest sent to the API in the request itself when the ledger is local (a few
# queries), instead of a Celery job the client then polls; the job remains for uploads,
# batches, pages and a ledger that cannot be reached.
VERIFY_INLINE = env.bool("VERIFY_INLINE", default=True)
# Seconds after which a verification still unfinished has its job queued again by the
# sweeper (its row committed while the broker was down, or its worker died), which runs
# every VERIFY_SWEEP_PERIOD seconds and queues at most VERIFY_SWEEP_MAX jobs a run.
# Longer than a job's own retries take (VERIFY_MAX_RETRIES, with backoff up to 30 s).
VERIFY_REQUEUE_AFTER = env.float("VERIFY_REQUEUE_AFTER", default=180.0)
VERIFY_SWEEP_PERIOD = env.float("VERIFY_SWEEP_PERIOD", default=30.0)
VERIFY_SWEEP_MAX = env.int("VERIFY_SWEEP_MAX", default=1000)
if CELERY_BROKER_URL:  # in-process tasks leave nothing to sweep
    CELERY_BEAT_SCHEDULE["verification-sweep"] = {
        "task": "verification.tasks.sweep",
        "schedule": VERIFY_SWEEP_PERIOD,
        "options": {"expires": VERIFY_SWEEP_PERIOD},
    }
VERIFY_BATCH_MAX = env.int("VERIFY_BATCH_MAX", default=1000)
VERIFY_PAGE_REFRESH = env.int("VERIFY_PAGE_REFRESH", default=2)
# The batch page (/batch): most files checked at once, and most bytes of them uploaded in
# one batch (files hashed in the browser send only their digests and do not count).
# Django's own cap on files in one request follows (DATA_UPLOAD_MAX_NUMBER_FILES).
VERIFY_BATCH_PAGE_MAX_FILES = env.int("VERIFY_BATCH_PAGE_MAX_FILES", default=100)
VERIFY_BATCH_PAGE_MAX_UPLOAD = env.int("VERIFY_BATCH_PAGE_MAX_UPLOAD", default=2 * 1024**3)
DATA_UPLOAD_MAX_NUMBER_FILES = max(100, VERIFY_BATCH_PAGE_MAX_FILES)
# Seconds a process reuses the newest checkpoint it read from the local ledger (when it
# covers the entry found) and the trusted checkpoint it last matched; 0: both read for
# every verification. A new checkpoint is then reported up to this much later.
VERIFY_CHECKPOINT_CACHE_SECONDS = env.float("VERIFY_CHECKPOINT_CACHE_SECONDS", default=1.0)
# Newest trusted checkpoint rows a verification reads to find one the log key signs.
VERIFY_TRUSTED_SCAN = env.int("VERIFY_TRUSTED_SCAN", default=10)
# Where signing in leads when no `next` says otherwise: the judges' search of records.
LOGIN_REDIRECT_URL = "judges"
# The judges' search (/judges): records to a page of results, the most a search lists
# (more matching records ask for a narrower search), and recent verifications shown.
JUDGE_SEARCH_PAGE_SIZE = env.int("JUDGE_SEARCH_PAGE_SIZE", default=25)
JUDGE_SEARCH_MAX_RESULTS = env.int("JUDGE_SEARCH_MAX_RESULTS", default=500)
JUDGE_RECENT_VERIFICATIONS = env.int("JUDGE_RECENT_VERIFICATIONS", default=20)

# --- Verification certificates ---------------------------------------------------------
# The portal signs certificate PDFs with its own key and certificate, never the log key.
# PEM files; the chain file holds the issuing CA certificate(s). Only the embedded default
# may create a development CA and certificate here (every PDF it signs then says so).
CERTIFICATE_KEY_FILE = Path(
    env("CERTIFICATE_KEY_FILE", default=str(DATA_DIR / "keys" / "certificate.key"))
)
CERTIFICATE_CERT_FILE = Path(
    env("CERTIFICATE_CERT_FILE", default=str(DATA_DIR / "keys" / "certificate.pem"))
)
CERTIFICATE_CHAIN_FILE = Path(
    env("CERTIFICATE_CHAIN_FILE", default=str(DATA_DIR / "keys" / "certificate-ca.pem"))
)
CERTIFICATE_DEV_CA = env.bool("CERTIFICATE_DEV_CA", default=EMBEDDED)
# An RFC 3161 timestamp authority (URL) for certificate signatures; empty: certificates
# carry the signing time only. By default the ledger's first TSA: a trust policy that pins
# TSAs (tsa-ca) requires certificates to be timestamped by one (the embedded default's is
# its DEVELOPMENT TSA, demo/dev_tsa.py).
CERTIFICATE_TSA_URL = env("CERTIFICATE_TSA_URL", default=next(iter(LEDGER_TSA_URLS), ""))
# The TSA's CA certificate (PEM), pinned by `manage.py trust_policy` as a tsa-ca line (the
# ledger's TSAs' CAs, LEDGER_TSA_CA_FILES, are pinned already).
CERTIFICATE_TSA_CA_FILE = env("CERTIFICATE_TSA_CA_FILE", default="")
# A certificate is rendered on its first download, or ahead of it by a job queued when a
# person looks at the finished result page: those jobs have a queue of their own, so that
# rendering never delays verifications; run a worker for it (`-Q certificates`).
CERTIFICATE_QUEUE = env("CERTIFICATE_QUEUE", default="certificates")
# Rendered certificates are kept this many days, then deleted by Celery beat every
# CERTIFICATE_EXPIRY_PERIOD seconds (0: never); one asked for again is rendered again.
CERTIFICATE_RETENTION_DAYS = env.float("CERTIFICATE_RETENTION_DAYS", default=30.0)
CERTIFICATE_EXPIRY_PERIOD = env.float("CERTIFICATE_EXPIRY_PERIOD", default=3600.0)
# Certificates a process renders at once (each takes a core for some tens of ms; more only
# share the same core), and seconds a download waits for one of them before a 503.
CERTIFICATE_RENDER_CONCURRENCY = env.int("CERTIFICATE_RENDER_CONCURRENCY", default=2)
CERTIFICATE_RENDER_WAIT = env.float("CERTIFICATE_RENDER_WAIT", default=10.0)
if CERTIFICATE_EXPIRY_PERIOD > 0:
    CELERY_BEAT_SCHEDULE["certificate-expiry"] = {
        "task": "verification.tasks.expire_certificates",
        "schedule": CERTIFICATE_EXPIRY_PERIOD,
        "options": {"expires": CERTIFICATE_EXPIRY_PERIOD},
    }
CELERY_TASK_ROUTES = {"verification.tasks.issue_certificate": {"queue": CERTIFICATE_QUEUE}}
CERTIFICATE_FONT_FILE = env("CERTIFICATE_FONT_FILE", default=STAMP_FONT_FILE)
CERTIFICATE_FONT_FAMILY = env("CERTIFICATE_FONT_FAMILY", default="Noto Sans CJK SC")
CERTIFICATE_SIGNER_LOCATION = env(
    "CERTIFICATE_SIGNER_LOCATION", default=urlsplit(PUBLIC_BASE_URL).netloc
)

# --- REST framework and OpenAPI -------------------------------------------------------
# The largest request body held in memory: a JSON body, or a form's fields apart from its
# files (Django's own bound on forms, which plumbing/parsers.py applies to JSON too). And
# how deeply a JSON body may nest; a deeper one is refused before it is parsed.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("REQUEST_MAX_BODY_SIZE", default=10 * 1024**2)
API_JSON_MAX_DEPTH = env.int("API_JSON_MAX_DEPTH", default=32)
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "plumbing.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "EXCEPTION_HANDLER": "plumbing.errors.api_exception_handler",
    # Per-client limits of the API and the pages, counted in the cache (Redis in
    # production) by plumbing/throttling.py; the scopes are listed in docs/operations.md.
    "DEFAULT_THROTTLE_CLASSES": ["plumbing.throttling.CountingRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "verifications": env("VERIFY_RATE", default="120/minute") or None,
        "verification_batches": env("VERIFY_BATCH_RATE", default="30/hour") or None,
        "photos": env("VERIFY_PHOTO_RATE", default="20/minute") or None,
        "pages": env("PAGE_RATE", default="300/minute") or None,
        "downloads": env("DOWNLOAD_RATE", default="60/minute") or None,
        "service_links": env("SERVICE_LINK_RATE", default="30/minute") or None,
        "logins": env("LOGIN_RATE", default="20/minute") or None,
        "ledger": env("LEDGER_READ_RATE", default="1200/minute") or None,
        "court_auth_failures": env("COURT_AUTH_FAILURE_RATE", default="60/minute") or None,
        "witness": WITNESS_RATE,
    },
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "司法文书核验平台接口 · Judicial verification portal API",
    # The three audiences (tags) and the errors' shape, in both languages.
    "DESCRIPTION": api_description.DESCRIPTION,
    "TAGS": api_description.TAGS,
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    # Upload fields are files in requests, not URLs.
    "COMPONENT_SPLIT_REQUEST": True,
    # No outside assets: /api/docs/ (templates/drf_spectacular/redoc.html, which replaces
    # drf-spectacular's own) loads Redoc from static/vendor/.
}

# --- Internationalisation: Chinese first, English second ------------------------------
LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", "简体中文"), ("en", "English")]
# The pages' texts are written in English in the source and translated in the catalogue
# locale/zh_Hans/LC_MESSAGES/django.po (docs/development.md, "Languages"); `make` compiles it.
LOCALE_PATHS = [BASE_DIR / "locale"]
# How long a reader's language choice is kept (Django's language cookie): a year.
LANGUAGE_COOKIE_AGE = env.int("LANGUAGE_COOKIE_AGE", default=365 * 24 * 3600)
TIME_ZONE = env("TIME_ZONE", default="Asia/Shanghai")
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
# The embedded default serves static files straight from the source folders.
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=EMBEDDED or DEBUG)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # Hashed, compressed names need `collectstatic` first (the image runs it).
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if env.bool("STATIC_MANIFEST", default=not (DEBUG or EMBEDDED))
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Security (production defaults; the embedded default serves plain HTTP locally) ---
# In production the portal is behind the HTTPS proxy (docker/nginx), which tells in this
# header how the client came; it must set the header itself, replacing any the client
# sent. Empty: no proxy tells, every request is taken as it reached the portal.
_PROXY_SSL_HEADER = env("SECURE_PROXY_SSL_HEADER", default="" if EMBEDDED else "X-Forwarded-Proto")
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_" + _PROXY_SSL_HEADER.upper().replace("-", "_"), "https") if _PROXY_SSL_HEADER else None
)
# A plain-HTTP request is redirected to HTTPS, but for /health and /metrics, which the
# deployment's own probes fetch over its inner network.
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not EMBEDDED)
SECURE_REDIRECT_EXEMPT = [r"^health$", r"^metrics$"]
# HSTS: a browser that reached the portal over HTTPS refuses plain HTTP to it (and, with
# INCLUDE_SUBDOMAINS, to the names under it) for this many seconds, even if HTTPS is later
# withdrawn. PRELOAD asks browsers to ship the rule built in: only for a registered domain
# that is submitted to the preload list (docs/operations.md, "HTTPS").
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if EMBEDDED else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not EMBEDDED)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=SESSION_COOKIE_SECURE)
SECURE_CONTENT_TYPE_NOSNIFF = True
# Record codes and service-link tokens are in page addresses: never sent to other sites.
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# A form refused for its CSRF token answers the portal's own error page.
CSRF_FAILURE_VIEW = "portal.error_answers.csrf_failure"
# Scripts and styles only from the portal's own files (static/), none inline: an injected
# tag or attribute runs nothing. 'wasm-unsafe-eval' lets those scripts compile
# WebAssembly (hash-wasm's SHA-256 and SM3), never evaluate JavaScript text. The API
# documentation page alone lets Redoc write its styles (portal/api_docs.py).
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.WASM_UNSAFE_EVAL],
    "style-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
# Django's deploy checks look for its CSRF and clickjacking middleware by their names; the
# portal runs subclasses of both (portal/middleware.py, tests/portal/test_middleware.py).
SILENCED_SYSTEM_CHECKS = ["security.W002", "security.W003"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
    # Font subsetting and PDF rendering narrate every glyph at INFO.
    "loggers": {name: {"level": "WARNING"} for name in ("fontTools", "weasyprint")},
}
