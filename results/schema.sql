-- results/schema.sql — the schema of a quintet results database (documented in results/README.md).
--
-- The file is a list of steps: the block after "-- @version N" turns a version N-1 database
-- into version N and ends with "PRAGMA user_version = N". A new database runs every block in
-- order; an older one runs the blocks above its user_version (harness/store/store.c, with a C
-- back-fill where a block needs one). Released blocks never change: a new version appends a
-- block. The build embeds this text into the quintet binary (mk/build.mk makes
-- build/gen/schema_sql.h from it), so this file is the only copy of the schema.
-- By hand: sqlite3 new.db < results/schema.sql

-- @version 1
PRAGMA application_id = 1364479572; -- 0x51544E54, "QTNT": marks a quintet database

-- What this file is: key 'application' = 'quintet'.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO meta (key, value) VALUES ('application', 'quintet'),
                                     ('created_at', strftime('%Y-%m-%dT%H:%M:%SZ', 'now'));

-- One row per `quintet run`.
CREATE TABLE runs (
    id           INTEGER PRIMARY KEY,
    uuid         TEXT NOT NULL UNIQUE,
    status       TEXT NOT NULL DEFAULT 'running'
                 CHECK (status IN ('running', 'completed', 'failed', 'interrupted')),
    command_line TEXT,
    profile      TEXT,
    seed         INTEGER,          -- uint64 stored as its two's-complement int64
    repetitions  INTEGER,          -- 0 = profile default
    filter       TEXT,
    backend      TEXT,
    suites       TEXT,
    git_commit   TEXT,
    git_dirty    INTEGER,          -- 1 dirty, 0 clean, NULL unknown
    host         TEXT,
    cpu_model    TEXT,
    cores        INTEGER,
    threads      INTEGER,
    cpu_mhz      REAL,
    compiler     TEXT,
    cflags       TEXT,
    pid          INTEGER,
    started_at   REAL,             -- unix time, seconds
    ended_at     REAL              -- NULL while running
);

-- Further provenance of a run: library versions, GPU and driver, environment variables, ...
CREATE TABLE run_provenance (
    run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    key    TEXT NOT NULL,
    value  TEXT,
    PRIMARY KEY (run_id, key)
) WITHOUT ROWID;

-- Whether each counter could be read on the run, and why not.
CREATE TABLE counter_availability (
    run_id    INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    event     TEXT NOT NULL,
    available INTEGER NOT NULL CHECK (available IN (0, 1)),
    reason    TEXT,
    PRIMARY KEY (run_id, event)
) WITHOUT ROWID;

-- One row per finished case (suite × case × variant × parameters) of a run.
CREATE TABLE cases (
    id         INTEGER PRIMARY KEY,
    run_id     INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    suite      TEXT NOT NULL,
    name       TEXT NOT NULL,
    variant    TEXT NOT NULL DEFAULT '',
    params     TEXT NOT NULL DEFAULT '',  -- canonical "k=v,k=v" (harness/run/params.h)
    status     TEXT NOT NULL CHECK (status IN ('ok', 'failed', 'skipped')),
    message    TEXT,
    started_at REAL,
    ended_at   REAL
);
CREATE INDEX cases_run ON cases (run_id);
CREATE INDEX cases_key ON cases (suite, name, variant, params);

-- Raw measurements: one value per case, metric and repetition (or seed index).
CREATE TABLE samples (
    case_id    INTEGER NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    metric     TEXT NOT NULL,
    unit       TEXT NOT NULL DEFAULT '',
    repetition INTEGER NOT NULL,
    value      REAL,                       -- NULL for NaN
    PRIMARY KEY (case_id, metric, repetition)
) WITHOUT ROWID;

-- Step-indexed curves (loss per step, ...) per case, series and seed.
CREATE TABLE series (
    case_id INTEGER NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    series  TEXT NOT NULL,
    seed    INTEGER NOT NULL,
    step    INTEGER NOT NULL,
    value   REAL,                          -- NULL for NaN
    PRIMARY KEY (case_id, series, seed, step)
) WITHOUT ROWID;

PRAGMA user_version = 1;

-- @version 2: summary statistics per case and metric, computed from samples when a case is
-- stored (the upgrade from version 1 back-fills them from the samples already there).
CREATE TABLE case_stats (
    case_id INTEGER NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    metric  TEXT NOT NULL,
    unit    TEXT NOT NULL DEFAULT '',
    n       INTEGER NOT NULL,              -- samples that are not NaN
    median  REAL,
    mean    REAL,
    stddev  REAL,                          -- sample standard deviation (n-1), 0 when n = 1
    min     REAL,
    max     REAL,
    q1      REAL,                          -- quartiles: type-7 linear interpolation
    q3      REAL,
    PRIMARY KEY (case_id, metric)
) WITHOUT ROWID;

PRAGMA user_version = 2;

-- @version 3: invocations, the unit of replication. `quintet run --invocations K` runs every case
-- in K separate processes and `quintet ab` runs each build once per round; each raw sample records
-- the process invocation (1..K) that measured it, 0 for a run measured in one process (every
-- sample written before version 3). runs.invocations is how many processes the run used.
ALTER TABLE samples ADD COLUMN invocation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN invocations INTEGER NOT NULL DEFAULT 1;
CREATE INDEX samples_invocation ON samples (case_id, invocation);

PRAGMA user_version = 3;
