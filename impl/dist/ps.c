/* ps.c — a bounded-staleness asynchronous parameter server over non-blocking point-to-point
 * messages (the communicator's isend / irecv; MPI_Isend / MPI_Irecv on the mpi backend).
 *
 * Roles: rank 0 of the communicator is the server and holds the parameters p (n floats);
 * ranks 1..W are the workers (W = world − 1). Every rank starts from the same p (seeded).
 * Worker, at its step c: compute the gradient g on the parameters it holds, send [c, g] to
 * the server, receive the reply (the server's current p) and continue with it.
 * Server: applies each gradient as it arrives, p ← p − lr·g (arrival order; no averaging: a
 * worker's g is already scaled by its share of the global batch), counts done_w (gradients
 * applied from worker w), and answers w's push only once
 *          done_w − min_v done_v ≤ s                                   (the staleness bound)
 * i.e. no worker starts step c + 1 while another has not finished step c − s. With s = 0 every
 * worker's step-c gradient is taken at the parameters after all step-(c−1) gradients: exactly
 * synchronous data-parallel SGD over the workers (up to float summation order; tests/dist).
 * Recorded by the server: max_gap, the largest done_w − min done_v at an answer (≤ s), and the
 * mean delay, the number of updates applied between sending a worker its parameters and
 * applying its gradient (W − 1 at most when synchronous).
 * Messages: a gradient is n + 1 floats, [0] = the step (exact below 2^24) and the gradient; a
 * worker's goodbye at free is [−1] alone (the server's pending receive completes with it).
 * Every wait polls with the library's deadline (qt_dist_timeout): a dead or hung peer gives
 * QT_ERR_STATE instead of a hang. The server between idle polls, and a worker waiting for its
 * answer, sleep 20 µs, so they leave the cores to the workers that compute when oversubscribed.
 * Used by mlp.c (cfg.ps); tests: tests/dist/test_dist.c; suite: dist_throughput async_ps. */
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#define PS_TAG_GRAD 7101
#define PS_TAG_PARAMS 7102

struct qt_dist_ps {
    qt_backend_t *be;
    const qt_dist_ops_t *ops;
    size_t n;
    int s, workers, failed;
    /* server */
    float **rbuf, **snap;         /* per worker: incoming [step, g]; outgoing parameters */
    qt_dist_req_t **rreq, **sreq; /* per worker: pending receive / send */
    int64_t *done, *sent_at;      /* gradients applied; updates applied when its parameters left */
    int *waiting;                 /* an answer owed to the worker */
    int64_t applied, goal, max_gap; /* goal: updates asked for so far (one pass may apply more) */
    double delay_sum;
    /* worker */
    float *out;
};

static qt_status_t ps_fail(qt_dist_ps_t *ps, qt_status_t s)
{
    if (s != QT_OK) ps->failed = 1;
    return s;
}

qt_status_t qt_dist_ps_init(qt_dist_ps_t **out, qt_backend_t *be, size_t n, int staleness)
{
    QT_CHECK_ARG(out && be && n > 0, "ps_init: NULL argument or empty parameters");
    *out = NULL;
    QT_CHECK_ARG(staleness >= 0, "ps: staleness bound %d must be >= 0", staleness);
    const qt_dist_ops_t *ops = qt_dist_ops_of(be);
    if (!ops) return QT_ERR_UNSUPPORTED;
    if (!ops->isend || !ops->irecv)
        return qt_fail(QT_ERR_UNSUPPORTED, "backend %s has no point-to-point messages for a parameter server",
                       qt_backend_name(be));
    QT_CHECK_ARG(be->world >= 2, "ps: a parameter server needs >= 2 ranks (a server and a worker), got %d", be->world);
    qt_dist_ps_t *ps = calloc(1, sizeof *ps);
    if (!ps) return qt_fail(QT_ERR_NOMEM, "parameter server");
    ps->be = be;
    ps->ops = ops;
    ps->n = n;
    ps->s = staleness;
    ps->workers = be->world - 1;
    int W = ps->workers, ok = 1;
    if (be->rank == 0) {
        ps->rbuf = calloc((size_t)W, sizeof *ps->rbuf);
        ps->snap = calloc((size_t)W, sizeof *ps->snap);
        ps->rreq = calloc((size_t)W, sizeof *ps->rreq);
        ps->sreq = calloc((size_t)W, sizeof *ps->sreq);
        ps->done = calloc((size_t)W, sizeof *ps->done);
        ps->sent_at = calloc((size_t)W, sizeof *ps->sent_at);
        ps->waiting = calloc((size_t)W, sizeof *ps->waiting);
        ok = ps->rbuf && ps->snap && ps->rreq && ps->sreq && ps->done && ps->sent_at && ps->waiting;
        for (int w = 0; ok && w < W; w++) {
            ps->rbuf[w] = malloc(sizeof(float) * (n + 1));
            ps->snap[w] = malloc(sizeof(float) * n);
            ok = ps->rbuf[w] && ps->snap[w];
        }
    } else {
        ps->out = malloc(sizeof(float) * (n + 1));
        ok = ps->out != NULL;
    }
    if (!ok) {
        qt_dist_ps_free(ps);
        return qt_fail(QT_ERR_NOMEM, "parameter server buffers (%zu floats)", n);
    }
    /* The server's receive for each worker's first gradient. */
    qt_status_t s = QT_OK;
    for (int w = 0; be->rank == 0 && s == QT_OK && w < W; w++)
        s = ops->irecv(be, ps->rbuf[w], n + 1, QT_DIST_F32, w + 1, PS_TAG_GRAD, &ps->rreq[w]);
    if (s != QT_OK) {
        ps->failed = 1;
        qt_dist_ps_free(ps);
        return s;
    }
    *out = ps;
    return QT_OK;
}

void qt_dist_ps_free(qt_dist_ps_t *ps)
{
    if (!ps) return;
    if (!ps->failed && ps->be->rank != 0 && ps->out) { /* goodbye: completes the server's receive */
        qt_dist_req_t *rq = NULL;
        ps->out[0] = -1;
        if (ps->ops->isend(ps->be, ps->out, 1, QT_DIST_F32, 0, PS_TAG_GRAD, &rq) == QT_OK)
            (void)qt_dist_wait(ps->be, rq, "parameter server goodbye");
    }
    for (int w = 0; ps->be->rank == 0 && ps->rreq && w < ps->workers; w++) {
        if (!ps->failed && ps->sreq[w]) (void)qt_dist_wait(ps->be, ps->sreq[w], "parameter server answer");
        /* a worker's goodbye (or, after a caller's early stop, a gradient nobody applies) */
        if (!ps->failed && ps->rreq[w]) (void)qt_dist_wait(ps->be, ps->rreq[w], "parameter server goodbye");
    }
    for (int w = 0; ps->rbuf && w < ps->workers; w++) {
        free(ps->rbuf[w]);
        free(ps->snap[w]);
    }
    free(ps->rbuf);
    free(ps->snap);
    free(ps->rreq);
    free(ps->sreq);
    free(ps->done);
    free(ps->sent_at);
    free(ps->waiting);
    free(ps->out);
    free(ps);
}

qt_status_t qt_dist_ps_push_pull(qt_dist_ps_t *ps, int64_t step, const float *g, float *p)
{
    QT_CHECK_ARG(ps && g && p && ps->be->rank != 0, "ps_push_pull: NULL argument or called on the server");
    QT_CHECK_ARG(step >= 0 && step < (1 << 24), "ps: step %lld outside [0, 2^24)", (long long)step);
    ps->out[0] = (float)step;
    memcpy(ps->out + 1, g, sizeof(float) * ps->n);
    qt_dist_req_t *rr = NULL, *sr = NULL;
    QT_TRY(ps_fail(ps, ps->ops->irecv(ps->be, p, ps->n, QT_DIST_F32, 0, PS_TAG_PARAMS, &rr)));
    qt_status_t s = ps->ops->isend(ps->be, ps->out, ps->n + 1, QT_DIST_F32, 0, PS_TAG_GRAD, &sr);
    if (s == QT_OK) s = qt_dist_wait(ps->be, sr, "gradient push to the parameter server");
    /* the answer may be held back by the staleness bound: wait without taking a core */
    if (s == QT_OK) s = qt_dist_wait_idle(ps->be, rr, "parameters from the parameter server");
    return ps_fail(ps, s);
}

/* Answer every worker that is owed parameters and is within the staleness bound. */
static qt_status_t answer(qt_dist_ps_t *ps, const float *p)
{
    int64_t lo = ps->done[0];
    for (int w = 1; w < ps->workers; w++)
        if (ps->done[w] < lo) lo = ps->done[w];
    for (int w = 0; w < ps->workers; w++) {
        if (!ps->waiting[w] || ps->done[w] - lo > ps->s) continue;
        if (ps->sreq[w]) { /* the previous answer (the worker has it: it pushed since) */
            qt_dist_req_t *rq = ps->sreq[w];
            ps->sreq[w] = NULL;
            QT_TRY(qt_dist_wait(ps->be, rq, "parameter server answer"));
        }
        memcpy(ps->snap[w], p, sizeof(float) * ps->n);
        QT_TRY(ps->ops->isend(ps->be, ps->snap[w], ps->n, QT_DIST_F32, w + 1, PS_TAG_PARAMS, &ps->sreq[w]));
        ps->waiting[w] = 0;
        ps->sent_at[w] = ps->applied;
        if (ps->done[w] - lo > ps->max_gap) ps->max_gap = ps->done[w] - lo;
    }
    return QT_OK;
}

static qt_status_t serve(qt_dist_ps_t *ps, float *p, float lr, int64_t updates)
{
    int64_t goal = ps->goal += updates;
    double last = qt_dist_now(), limit = qt_dist_timeout();
    unsigned idle = 0;
    while (ps->applied < goal) {
        int got = 0;
        for (int w = 0; w < ps->workers; w++) {
            int done = 0;
            if (!ps->rreq[w]) continue;
            QT_TRY(ps->ops->test(ps->be, ps->rreq[w], &done));
            if (!done) continue;
            ps->rreq[w] = NULL;
            const float *m = ps->rbuf[w];
            if (m[0] < 0)
                return qt_backend_fail(ps->be, QT_ERR_STATE, "parameter server: worker %d left after %lld steps, "
                                       "%lld updates short", w + 1, (long long)ps->done[w],
                                       (long long)(goal - ps->applied));
            for (size_t i = 0; i < ps->n; i++) p[i] -= lr * m[i + 1];
            ps->delay_sum += (double)(ps->applied - ps->sent_at[w]);
            ps->applied++;
            ps->done[w]++;
            ps->waiting[w] = 1;
            QT_TRY(ps->ops->irecv(ps->be, ps->rbuf[w], ps->n + 1, QT_DIST_F32, w + 1, PS_TAG_GRAD, &ps->rreq[w]));
            got = 1;
        }
        if (got) {
            QT_TRY(answer(ps, p));
            last = qt_dist_now();
            idle = 0;
        } else if (++idle % 64 == 0) {
            if (qt_dist_now() - last > limit)
                return qt_backend_fail(ps->be, QT_ERR_STATE, "parameter server on rank 0 of %d: no gradient for "
                                       "%.1f s, %lld updates short: a worker died or hangs", ps->be->world, limit,
                                       (long long)(goal - ps->applied));
            nanosleep(&(struct timespec){0, 20000}, NULL);
        }
    }
    /* Finish the answers already sent: the workers wait for them, and the caller may compute
     * (no MPI progress) before serving again. */
    for (int w = 0; w < ps->workers; w++)
        if (ps->sreq[w]) {
            qt_dist_req_t *rq = ps->sreq[w];
            ps->sreq[w] = NULL;
            QT_TRY(qt_dist_wait(ps->be, rq, "parameter server answer"));
        }
    return QT_OK;
}

qt_status_t qt_dist_ps_serve(qt_dist_ps_t *ps, float *p, float lr, int64_t updates)
{
    QT_CHECK_ARG(ps && p && ps->be->rank == 0 && updates >= 0, "ps_serve: NULL argument, not the server or updates < 0");
    return ps_fail(ps, serve(ps, p, lr, updates));
}

int qt_dist_ps_workers(const qt_dist_ps_t *ps) { return ps ? ps->workers : 0; }

void qt_dist_ps_staleness(const qt_dist_ps_t *ps, int64_t *max_gap, double *mean_delay)
{
    *max_gap = ps && ps->done ? ps->max_gap : 0;
    *mean_delay = ps && ps->done && ps->applied ? ps->delay_sum / (double)ps->applied : 0;
}
