/* dist_throughput.c — the distributed-training suite (dist.h) on every backend of the registry
 * that has dist ops and can start here (mpi: host buffers over MPI; nccl: GPU buffers over
 * NCCL, one process per GPU). No backend is chosen by name: the variant is the backend.
 *
 *   quintet run dist_throughput --ranks 2            (starts mpirun itself; launch.h)
 *   quintet run dist_throughput --ranks 2 --transport tcp   (OpenMPI TCP over loopback)
 *   quintet run dist_throughput --ranks 2 --filter nccl     (GPUs only)
 *   srun -n 8 build/quintet run dist_throughput      (inside an allocation)
 * Every rank runs every case; rank 0 alone writes the database. Built without a communicator
 * backend, or on a world of one, the cases are skipped with the reason.
 *
 * Cases (variant = the backend; params ranks = the world, transport = shm | tcp, the MPI transport):
 *   coll_<name> bytes=S   timed (manual time): one collective per iteration on S bytes per rank
 *       (all-reduce, broadcast) or S·n in total (reduce-scatter, all-gather, all-to-all: nccl-tests'
 *       size); an iteration's time is the MAX over ranks (an extra untimed all-reduce), so Google
 *       Benchmark takes the same decisions on every rank. Metrics: time_s; algbw_gbps = S / t;
 *       busbw_gbps = algbw · factor, factor 2(n−1)/n all-reduce, (n−1)/n reduce-scatter,
 *       all-gather, all-to-all, 1 broadcast (nccl-tests PERFORMANCE.md), from the median time;
 *       wrong_values = received values differing from the exact seeded result, summed over ranks.
 *       coll_allreduce_bare is the library's single MPI_Allreduce call on the same buffers
 *       (no deadline, no checks), beside quintet's path (non-blocking + polled deadline).
 *       Buffers live on the backend's device; the check data is made and checked there.
 *       Host backends: quick 8 B … 128 MiB (×8), nightly and paper 8 B … 256 MiB (×4); GPU backends:
 *       quick 8 B … 512 MiB, nightly and paper 8 B … 8 GiB (×4). Quick: other collectives to 1 MiB.
 *       GPU backends also run on ONE rank (NCCL's launch and local copy: the latency floor; busbw
 *       is 0 there by definition); host backends skip the collectives on one rank.
 *       A case's setup, each iteration and its check end with one verdict for all ranks
 *       (agree(): a failure on any rank fails every rank in the same place, with that rank's
 *       message), so one rank's failure cannot leave the others waiting in a collective.
 *       A case's setup ends with one untimed call of the case (nccl-tests' warm-up).
 *   The imbalance, compression, local SGD and parameter-server cases run on host backends; GPU
 *   backends list train_dp k=1,2,…,world (25 and 4 MiB buckets), train_dp_weak (per-GPU batch
 *   4096 and 8192), train_dp_topk k=world (gpu_train_cases: the MLP on the GPUs, in 1024, hidden
 *   4096) and train_fusion_dp k=1,2,…; GPU MLP rows add where a step's compute goes:
 *   fwd_step_s, bwd2_step_s, relu_db1_step_s, dw1_step_s (slowest rank each).
 *   train_fusion_dp k=K   experiment: the fusion model (quintet/fusion.h, cross-modal attention)
 *       trained data-parallel on the first K ranks (impl/dist/fusion_dp.c; host: cpu compute,
 *       d 32, batch 256; GPU: a cuda instance beside the nccl one, d 64, d_ff 256, batch 8192):
 *       samples_per_s, step_s, tflops, final_loss; finish: scaling_fusion scaling_efficiency.
 *       train_dp_weak's finish: scaling_weak scaling_efficiency (per-GPU batch fixed).
 *   alpha_beta (finish)   per collective, least squares time = α + β·S over the sweep's medians,
 *       weighted 1/t² (relative error: small sizes set α, large ones β):
 *       alpha_us, beta_gbps (= 1/β); and from the all-reduce fit, per-hop α₀ = α/(2(n−1)) and
 *       β₀ = β·n/(2(n−1)), predicted all-reduce time of 64 MiB at p = 8, 64, 1024 ranks for
 *       ring (2(p−1)α₀ + 2(p−1)/p·S·β₀) and tree (2⌈log₂p⌉(α₀ + S·β₀)): pred_ring_s, pred_tree_s
 *       (p = 8, 64, 512, 1024).
 *   scaling_predict (finish)  DP scaling efficiency at p = 8 … 1024 from that fit and the measured
 *       1-rank step time t of train_dp (batch 1024), gradient S = 4 bytes per parameter, no
 *       overlap: weak (batch 1024 per rank) t / (t + T_ar(p, S)), strong (global batch 1024)
 *       (t/p) / (t/p + T_ar): pred_eff_{weak,strong}_{ring,tree}.
 *   busbw_cliff (finish)  per collective, the largest fall of busbw from one size of the sweep to
 *       the next (from 64 KiB up): busbw_drop = busbw(before) / busbw(at), with bytes = the size where it falls
 *       (a cliff like this VM's 4→16 MiB one shows as busbw_drop ≫ 1).
 *   train_<dp|tp|hybrid> k=K   experiment: the MLP (in 512, hidden 2048, 16 classes, batch 1024 (param batch):
 *       compute-bound) on the first K ranks (the others wait, sleeping); samples_per_s over the
 *       timed steps (max over ranks), load_imbalance, slowest_rank, comm_frac (wait / step time),
 *       final_loss; finish: scaling_efficiency = samples_per_s(K) / (K · samples_per_s(1)).
 *   imbalance shares=equal|balanced   experiment: dp on all ranks, rank 0 does its first layer
 *       3× (a deliberately slow rank); equal shares, then shares from the measured rows/s
 *       (qt_dist_balance_shares): samples_per_s, load_imbalance, slowest_rank.
 *   imbalance_tp split=equal|uneven|balanced   experiment: the training MLP on the grid (dp × tp 2
 *       from 4 ranks, tp over all ranks below): hidden units split equally, unevenly (tp rank 0
 *       holds 3× the others' share: the slowest), or by the balancer from the hidden units/s each
 *       rank measured on the uneven split: samples_per_s, load_imbalance over the grid,
 *       slowest_rank (grid rank), share_rank0.
 *   compress scheme=…     experiment: dp on all ranks, a smaller MLP, equal steps per scheme (quick
 *       400, else 1000; compress_dgc: top-k 1% with DGC's per-layer selection and warm-up):
 *       bytes_per_step (this rank's gradient message), compression_ratio (dense / sent),
 *       final_loss, loss_vs_dense (finish: final_loss / the uncompressed one), series loss by step
 *       and loss_vs_bytes (loss against the cumulative bytes this rank sent).
 *   local_sgd H=…         experiment: local SGD averaging every H steps: series loss_vs_us
 *       (loss against wall-clock µs), final_loss.
 *   async_ps s=…          experiment (≥ 3 ranks: rank 0 the parameter server, the others workers;
 *       the small MLP at batch 1024;
 *       worker 1 does its first layer 8× as a much slower machine would): bounded staleness s = 0
 *       (synchronous), 1, 4: series loss_vs_us (the server's global-batch loss against
 *       wall-clock µs), final_loss, samples_per_s, ps_max_gap (the largest clock gap allowed, ≤ s),
 *       ps_mean_delay (updates between a worker's parameters and its gradient). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "quintet/dist.h"
#include "run/launch.h"
#include "run/suite.h"

/* ---- one world instance per communicator backend for the whole run (started once) ---- */
#define MAX_WORLDS 8
static struct {
    const char *name;
    qt_backend_t *be;
} worlds[MAX_WORLDS];
static int n_worlds = -1;

/* Start every registered backend with dist ops that is available here (all ranks alike). */
static void start_worlds(void)
{
    if (n_worlds >= 0) return;
    n_worlds = 0;
    for (int i = 0; i < qt_backend_count() && n_worlds < MAX_WORLDS; i++) {
        const qt_backend_iface_t *f = qt_backend_iface_get(i);
        if (!f->ops[QT_TECH_DIST] || !qt_backend_iface_available(f, NULL, 0)) continue;
        qt_backend_t *be = NULL;
        if (qt_backend_init(&be, f->name, NULL) != QT_OK) continue;
        worlds[n_worlds].name = f->name;
        worlds[n_worlds++].be = be;
    }
}

/* The world of backend `name` (a case's variant), or QT_ERR_UNSUPPORTED with the reason. */
static qt_status_t get_world(const char *name, qt_backend_t **be)
{
    start_worlds();
    for (int i = 0; i < n_worlds; i++)
        if (!strcmp(worlds[i].name, name)) {
            *be = worlds[i].be;
            return QT_OK;
        }
    return qt_fail(QT_ERR_UNSUPPORTED, "backend %s has no communicator in this build or cannot start here", name);
}

static const char *transport(void)
{
    const char *t = getenv("QT_DIST_TRANSPORT");
    return t && *t ? t : "shm";
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Max over ranks of x. */
static double max_over(qt_backend_t *be, double x)
{
    if (be->world > 1) (void)qt_dist_allreduce_raw(be, &x, &x, 1, QT_DIST_F64, QT_DIST_MAX);
    return x;
}

/* A barrier that sleeps between polls: ranks sitting out a case leave the cores to the others. */
static qt_status_t idle_barrier(qt_backend_t *be)
{
    const qt_dist_ops_t *ops = qt_backend_ops(be, QT_TECH_DIST);
    int x = 0, done = 0;
    qt_dist_req_t *req;
    QT_TRY(ops->iallreduce(be, &x, &x, 1, QT_DIST_I32, QT_DIST_SUM, &req));
    while (!done) {
        QT_TRY(ops->test(be, req, &done));
        if (!done) nanosleep(&(struct timespec){0, 200000}, NULL);
    }
    return QT_OK;
}

/* One verdict for every rank of a case step. A failure on one rank alone (an allocation, a
 * kernel launch, a stale CUDA error) used to send that rank on to the next case while the others
 * waited in the collective it never called — a hang, and its message was lost (only rank 0 has
 * stderr). Here: the first failing rank's status and message go to every rank (an all-gather
 * of fixed-size records over the host path), so all fail the step together, rank 0 reporting
 * "rank R: ...". s is this rank's status; QT_OK only when every rank's was. */
#define AGREE_MSG 248
typedef struct {
    int32_t code, rank;
    char msg[AGREE_MSG];
} agree_rec_t;

static qt_status_t agree(qt_backend_t *be, qt_status_t s)
{
    if (be->world < 2) return s;
    agree_rec_t mine = {(int32_t)s, (int32_t)be->rank, ""};
    if (s != QT_OK) snprintf(mine.msg, sizeof mine.msg, "%s", qt_last_error());
    agree_rec_t *all = calloc((size_t)be->world, sizeof *all);
    if (!all) return qt_fail(QT_ERR_NOMEM, "agree");
    qt_status_t g = qt_dist_allgather_raw(be, &mine, all, sizeof mine, QT_DIST_U8);
    qt_status_t out = g;
    for (int r = 0; g == QT_OK && r < be->world; r++)
        if (all[r].code != QT_OK) {
            all[r].msg[AGREE_MSG - 1] = '\0';
            out = qt_fail((qt_status_t)all[r].code, "rank %d of %d: %s", (int)all[r].rank, be->world, all[r].msg);
            break;
        }
    free(all);
    return out;
}

/* ---- collectives ---- */
typedef struct {
    qt_backend_t *be;
    qt_coll_t coll;
    int bare;
    size_t count, send_bytes, recv_bytes;
    float *send, *recv; /* on be's device */
    double *times;
    size_t n_times, cap;
} coll_state_t;

static void coll_teardown(void *state);

static qt_status_t coll_setup(const qt_case_t *c, qt_rec_t *r, void **state)
{
    qt_backend_t *be = NULL;
    QT_TRY(get_world(c->variant, &be));
    /* one rank: nothing to exchange over MPI; on a GPU backend the 1-rank collective is still
     * NCCL's launch and local reduction (its latency floor), so it runs */
    if (be->world < 2 && qt_device_is_host(be->device))
        return qt_fail(QT_ERR_UNSUPPORTED, "one rank: run with --ranks N (N >= 2)");
    coll_state_t *s = calloc(1, sizeof *s);
    if (!s) return qt_fail(QT_ERR_NOMEM, "state");
    s->be = be;
    s->coll = (qt_coll_t)qt_params_int(&c->params, "coll_id", 0);
    s->bare = (int)qt_params_int(&c->params, "bare", 0);
    long long bytes = qt_params_int(&c->params, "bytes", 8);
    s->count = (size_t)(bytes / 4 > 0 ? bytes / 4 : 1);
    if (s->coll != QT_COLL_ALLREDUCE && s->coll != QT_COLL_BROADCAST) s->count = (s->count + be->world - 1) / be->world;
    s->send_bytes = qt_dist_coll_send_count(s->coll, s->count, be->world) * sizeof(float);
    s->recv_bytes = qt_dist_coll_recv_count(s->coll, s->count, be->world) * sizeof(float);
    void *sp = NULL, *rp = NULL;
    uint64_t seed = qt_rec_seed(r);
    qt_status_t st = qt_backend_alloc(be, s->send_bytes, &sp);
    s->send = sp;
    if (st == QT_OK) st = qt_backend_alloc(be, s->recv_bytes, &rp);
    s->recv = rp;
    if (st == QT_OK) st = qt_dist_check_fill_on(be, s->coll, s->count, seed, s->send);
    if (st == QT_OK && s->coll == QT_COLL_BROADCAST) st = qt_dist_check_fill_on(be, s->coll, s->count, seed, s->recv);
    else if (st == QT_OK && be->iface->memset0) st = be->iface->memset0(be, s->recv, s->recv_bytes);
    /* one untimed call of the case first (nccl-tests' warm-up): a size's first call can still set
     * something up (the instance warmed NCCL's connections up when it was made; a protocol or
     * buffer seen first here, a lazily loaded kernel); the results are the same every call */
    if (st == QT_OK) {
        const qt_dist_ops_t *ops = qt_backend_ops(be, QT_TECH_DIST);
        st = s->bare ? ops->allreduce_blocking(be, s->send, s->recv, s->count, QT_DIST_F32, QT_DIST_SUM)
                     : qt_dist_collective(be, s->coll, s->send, s->recv, s->count);
    }
    if (st == QT_OK) st = qt_backend_synchronize(be);
    st = agree(be, st);
    if (st != QT_OK) {
        coll_teardown(s);
        return st;
    }
    *state = s;
    qt_rec_set_rate_names(r, NULL, "algbw_gbps");
    qt_rec_set_work(r, 0, qt_dist_coll_bytes(s->coll, s->count, be->world));
    return QT_OK;
}

static qt_status_t coll_iterate(void *state, double *seconds)
{
    coll_state_t *s = state;
    double t0 = now_s();
    qt_status_t st;
    if (s->bare) {
        const qt_dist_ops_t *ops = qt_backend_ops(s->be, QT_TECH_DIST);
        st = ops->allreduce_blocking(s->be, s->send, s->recv, s->count, QT_DIST_F32, QT_DIST_SUM);
    } else {
        st = qt_dist_collective(s->be, s->coll, s->send, s->recv, s->count);
    }
    /* the time is the max over ranks; the same all-reduce says whether any rank failed, so every
     * rank stops in the same iteration (then agree() brings the failing rank's message) */
    double t[2] = {now_s() - t0, st != QT_OK ? 1.0 : 0.0};
    if (s->be->world > 1) {
        qt_status_t m = qt_dist_allreduce_raw(s->be, t, t, 2, QT_DIST_F64, QT_DIST_MAX);
        if (m != QT_OK) return m;
    }
    if (t[1] > 0) return agree(s->be, st != QT_OK ? st : QT_OK);
    *seconds = t[0];
    if (s->n_times == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 256;
        double *tt = realloc(s->times, cap * sizeof *tt);
        if (!tt) return qt_fail(QT_ERR_NOMEM, "times");
        s->times = tt;
        s->cap = cap;
    }
    s->times[s->n_times++] = *seconds;
    return QT_OK;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static qt_status_t coll_after(void *state, const qt_case_t *c, qt_rec_t *r)
{
    coll_state_t *s = state;
    (void)c;
    long long w = 0;
    QT_TRY(agree(s->be, qt_dist_check_count_on(s->be, s->coll, s->count, qt_rec_seed(r), s->recv, &w)));
    double wrong = (double)w;
    if (s->be->world > 1) QT_TRY(qt_dist_allreduce_raw(s->be, &wrong, &wrong, 1, QT_DIST_F64, QT_DIST_SUM));
    qt_rec_metric(r, "wrong_values", "count", wrong);
    if (s->n_times) {
        qsort(s->times, s->n_times, sizeof *s->times, cmp_double);
        double t = s->times[s->n_times / 2];
        double algbw = qt_dist_coll_bytes(s->coll, s->count, s->be->world) / t / 1e9;
        qt_rec_metric(r, "busbw_gbps", "GB/s", algbw * qt_dist_busbw_factor(s->coll, s->be->world));
    }
    return QT_OK;
}

static void coll_teardown(void *state)
{
    coll_state_t *s = state;
    if (!s) return;
    if (s->send) qt_backend_dealloc(s->be, s->send, s->send_bytes);
    if (s->recv) qt_backend_dealloc(s->be, s->recv, s->recv_bytes);
    free(s->times);
    free(s);
}

/* ---- training ---- */

/* The compute-bound MLP of the training cases. Why batch 1024: per parameter a step costs
 * 6·B/k FLOPs on each of k ranks and the ring all-reduce moves 8(k−1)/k bytes, so at k = 2 the
 * step does 6·B/8 = 768 FLOP per byte sent; this VM does ~80 GFLOP/s per core (OpenBLAS, one
 * thread) and all-reduces 4 MiB at ~2-6 GB/s (≈ 15-40 FLOP/byte balance), so compute is
 * ≥ 20× the exposed communication (the W1 gradient, 4 MiB, is produced last and cannot
 * overlap). At B = 256 (the earlier size) it was 192 FLOP/byte: 5-13× — under load the
 * all-reduce alone took 10-20% of a step. */
static void train_config(qt_dist_mlp_config_t *cfg, uint64_t seed)
{
    qt_dist_mlp_config_default(cfg);
    cfg->in = 512;
    cfg->hidden = 2048;
    cfg->classes = 16;
    cfg->batch = 1024;
    cfg->lr = 0.05f;
    cfg->bucket_bytes = 1 << 20;
    cfg->seed = seed;
}

/* Train m for warm + steps steps; record throughput and balance metrics (max over ranks). */
static qt_status_t train_and_record(qt_dist_mlp_t *m, qt_backend_t *be, qt_rec_t *r, int batch, int warm, int steps)
{
    double loss = 0;
    for (int s = 0; s < warm; s++) QT_TRY(qt_dist_mlp_step(m, s, NULL));
    qt_dist_stats_t st;
    QT_TRY(qt_dist_mlp_stats(m, &st, 1));
    QT_TRY(qt_dist_barrier(be));
    double t0 = now_s();
    for (int s = warm; s < warm + steps; s++) QT_TRY(qt_dist_mlp_step(m, s, s == warm + steps - 1 ? &loss : NULL));
    double t = max_over(be, now_s() - t0);
    QT_TRY(qt_dist_mlp_check_replicas(m));
    QT_TRY(qt_dist_mlp_stats(m, &st, 1));
    qt_rec_metric(r, "samples_per_s", "samples/s", (double)batch * steps / t);
    qt_rec_metric(r, "step_s", "s", t / steps);
    qt_rec_metric(r, "load_imbalance", "ratio", st.load_imbalance);
    qt_rec_metric(r, "slowest_rank", "rank", st.slowest_rank);
    qt_rec_metric(r, "comm_frac", "ratio", max_over(be, st.comm_wait_s) / t);
    qt_rec_metric(r, "compute_step_s", "s", st.max_compute_s / steps);
    qt_rec_metric(r, "final_loss", "nats", loss);
    if (st.phase_s[3] > 0) { /* the GPU path: where a step's compute goes (slowest rank per phase) */
        static const char *const names[4] = {"fwd_step_s", "bwd2_step_s", "relu_db1_step_s", "dw1_step_s"};
        for (int k = 0; k < 4; k++) qt_rec_metric(r, names[k], "s", max_over(be, st.phase_s[k]) / steps);
    }
    return QT_OK;
}

static qt_status_t train_run(const qt_case_t *c, qt_rec_t *r, uint64_t seed)
{
    qt_backend_t *be = NULL, *sub = NULL, *dpb = NULL, *tpb = NULL;
    QT_TRY(get_world(c->variant, &be));
    int k = (int)qt_params_int(&c->params, "k", 1);
    const char *mode = qt_params_str(&c->params, "mode", "dp");
    int steps = (int)qt_params_int(&c->params, "steps", 8);
    const qt_dist_ops_t *ops = qt_backend_ops(be, QT_TECH_DIST);
    int in = be->rank < k;
    QT_TRY(ops->split(be, in, be->rank, &sub));
    qt_status_t s = QT_OK;
    if (in) {
        int tp = !strcmp(mode, "dp") ? 1 : !strcmp(mode, "tp") ? k : 2;
        s = qt_dist_grid_split(sub, tp, &dpb, &tpb);
        qt_dist_mlp_config_t cfg;
        train_config(&cfg, seed);
        cfg.batch = (int)qt_params_int(&c->params, "batch", cfg.batch);
        long long per_gpu = qt_params_int(&c->params, "per_gpu", 0); /* weak scaling: the batch grows with k */
        if (per_gpu > 0) cfg.batch = (int)(per_gpu * k);
        /* GPU cases give their own (larger) sizes and may compress */
        cfg.in = (int)qt_params_int(&c->params, "in", cfg.in);
        cfg.hidden = (int)qt_params_int(&c->params, "hidden", cfg.hidden);
        cfg.bucket_bytes = (size_t)qt_params_int(&c->params, "bucket_bytes", (long long)cfg.bucket_bytes);
        if (s == QT_OK) s = qt_compress_parse(qt_params_str(&c->params, "compress", "none"), &cfg.compress.kind);
        cfg.compress.ratio = qt_params_double(&c->params, "ratio", 0.01);
        cfg.compress.seed = seed;
        qt_dist_mlp_t *m = NULL;
        if (s == QT_OK) s = qt_dist_mlp_init(&m, dpb, tpb, &cfg);
        if (s == QT_OK) s = train_and_record(m, sub, r, cfg.batch, 3, steps);
        qt_dist_mlp_free(m);
        qt_backend_free(dpb);
        qt_backend_free(tpb);
    }
    qt_backend_free(sub);
    /* the ranks sitting out wait sleeping; then one verdict for all (a failure on any rank) */
    qt_status_t b = idle_barrier(be);
    return b != QT_OK ? b : agree(be, s);
}

/* The fusion model trained data-parallel (impl/dist/fusion_dp.c) on the first k ranks: the
 * compute instance beside the communicator (GPU: a cuda instance on the nccl instance's GPU; host:
 * cpu), the model (cross-modal attention, width d, d_ff) on the MIXED task, global batch B,
 * a data set of 16 batches so the timed steps stay inside the first epoch (the per-epoch upload
 * is in the warm-up). samples_per_s (max time over ranks), step_s, tflops (3 × qt_fusion_flops,
 * the model's matrix products), final_loss; replicas checked equal. */
static qt_status_t fusion_dp_run(const qt_case_t *c, qt_rec_t *r, uint64_t seed)
{
    qt_backend_t *be = NULL, *sub = NULL, *cb = NULL;
    QT_TRY(get_world(c->variant, &be));
    int k = (int)qt_params_int(&c->params, "k", 1), steps = (int)qt_params_int(&c->params, "steps", 8), warm = 2;
    const qt_dist_ops_t *ops = qt_backend_ops(be, QT_TECH_DIST);
    int in = be->rank < k;
    QT_TRY(ops->split(be, in, be->rank, &sub));
    qt_status_t s = QT_OK;
    if (in) {
        int gpu = !qt_device_is_host(sub->device);
        qt_backend_params_t bp = {.device = gpu ? qt_device_index(sub->device) : 0};
        s = qt_backend_init(&cb, gpu ? "cuda" : "cpu", &bp);
        qt_dist_fusion_config_t cfg;
        memset(&cfg, 0, sizeof cfg);
        qt_fusion_task_shape(&cfg.model);
        cfg.model.d = (int)qt_params_int(&c->params, "d", 32);
        cfg.model.d_ff = (int)qt_params_int(&c->params, "d_ff", 64);
        cfg.model.strategy = QT_FUSION_CROSS;
        cfg.model.normalize = 1;
        cfg.batch = (int)qt_params_int(&c->params, "batch", 256);
        cfg.lr = 1e-3;
        cfg.seed = seed;
        qt_fusion_data_t data;
        memset(&data, 0, sizeof data);
        if (s == QT_OK) s = qt_fusion_task_make(QT_FUSION_TASK_MIXED, 0.5, seed, 0, 16 * (int64_t)cfg.batch, &data);
        qt_dist_fusion_t *f = NULL;
        if (s == QT_OK) s = qt_dist_fusion_init(&f, sub, cb, &cfg, &data);
        double loss = 0;
        for (int i = 0; i < warm && s == QT_OK; i++) s = qt_dist_fusion_step(f, NULL);
        if (s == QT_OK) s = qt_backend_synchronize(cb);
        if (s == QT_OK) s = qt_dist_barrier(sub);
        double t0 = now_s();
        for (int i = 0; i < steps && s == QT_OK; i++) s = qt_dist_fusion_step(f, i == steps - 1 ? &loss : NULL);
        if (s == QT_OK) s = qt_backend_synchronize(cb);
        double t = max_over(sub, now_s() - t0);
        if (s == QT_OK) s = qt_dist_fusion_check_replicas(f);
        if (s == QT_OK) {
            qt_rec_metric(r, "samples_per_s", "samples/s", (double)cfg.batch * steps / t);
            qt_rec_metric(r, "step_s", "s", t / steps);
            qt_rec_metric(r, "tflops", "TFLOP/s", 3.0 * qt_fusion_flops(&cfg.model, cfg.batch) * steps / t / 1e12);
            qt_rec_metric(r, "final_loss", "nats", loss);
        }
        qt_dist_fusion_free(f);
        qt_fusion_data_free(&data);
        qt_backend_free(cb);
    }
    qt_backend_free(sub);
    qt_status_t b = idle_barrier(be);
    return b != QT_OK ? b : agree(be, s);
}

static qt_status_t imbalance_run(const qt_case_t *c, qt_rec_t *r, uint64_t seed)
{
    qt_backend_t *be = NULL;
    QT_TRY(get_world(c->variant, &be));
    if (be->world < 2) return qt_fail(QT_ERR_UNSUPPORTED, "one rank: nothing to balance");
    int balanced = !strcmp(qt_params_str(&c->params, "shares", "equal"), "balanced");
    qt_dist_mlp_config_t cfg;
    train_config(&cfg, seed);
    cfg.slow_rank = 0;
    cfg.slow_factor = 3;
    double *shares = NULL;
    qt_dist_mlp_t *m = NULL;
    if (balanced) { /* measure rows/s per rank on equal shares, then share by speed */
        QT_TRY(qt_dist_mlp_init(&m, be, NULL, &cfg));
        qt_status_t s = QT_OK;
        for (int i = 0; i < 3 && s == QT_OK; i++) s = qt_dist_mlp_step(m, i, NULL);
        qt_dist_stats_t st;
        if (s == QT_OK) s = qt_dist_mlp_stats(m, &st, 1);
        qt_dist_mlp_free(m);
        m = NULL;
        QT_TRY(s);
        shares = malloc(sizeof(double) * (size_t)be->world);
        if (!shares) return qt_fail(QT_ERR_NOMEM, "shares");
        double mine = 3.0 * cfg.batch / be->world / (st.compute_s > 0 ? st.compute_s : 1e-9);
        s = qt_dist_balance_shares(be, mine, shares);
        if (s != QT_OK) { free(shares); return s; }
        cfg.shares = shares;
        qt_rec_metric(r, "share_rank0", "fraction", shares[0]);
    }
    qt_status_t s = qt_dist_mlp_init(&m, be, NULL, &cfg);
    if (s == QT_OK) s = train_and_record(m, be, r, cfg.batch, 1, (int)qt_params_int(&c->params, "steps", 6));
    qt_dist_mlp_free(m);
    free(shares);
    return s;
}

/* An uneven split of the layers over the tp ranks of the grid (dp × 2 from 4 ranks, else tp over
 * all): equal hidden units, tp rank 0 holding 3× the others' share, or the balancer's shares from
 * the hidden units/s each rank measured on the uneven split. */
static qt_status_t imbalance_tp_run(const qt_case_t *c, qt_rec_t *r, uint64_t seed)
{
    qt_backend_t *be = NULL, *dpb = NULL, *tpb = NULL;
    QT_TRY(get_world(c->variant, &be));
    if (be->world < 2) return qt_fail(QT_ERR_UNSUPPORTED, "one rank: no layers to split");
    const char *split = qt_params_str(&c->params, "split", "equal");
    int tp = be->world >= 4 ? 2 : be->world, steps = (int)qt_params_int(&c->params, "steps", 6);
    QT_TRY(qt_dist_grid_split(be, tp, &dpb, &tpb));
    qt_dist_mlp_config_t cfg;
    train_config(&cfg, seed);
    double sh[64];
    for (int t = 0; t < tp && t < 64; t++) sh[t] = (t == 0 ? 3.0 : 1.0) / (tp + 2);
    if (strcmp(split, "equal")) cfg.tp_shares = sh;
    qt_status_t s = tp <= 64 ? QT_OK : qt_fail(QT_ERR_ARG, "tp %d > 64", tp);
    qt_dist_mlp_t *m = NULL;
    if (s == QT_OK && !strcmp(split, "balanced")) { /* measure on the uneven split, share by speed */
        qt_dist_stats_t st;
        s = qt_dist_mlp_init(&m, dpb, tpb, &cfg);
        for (int i = 0; i < 3 && s == QT_OK; i++) s = qt_dist_mlp_step(m, i, NULL);
        if (s == QT_OK) s = qt_dist_mlp_stats(m, &st, 1);
        qt_dist_mlp_free(m);
        m = NULL;
        /* every dp replica must split alike: each tp index's rate summed over the dp ranks */
        double rate = cfg.hidden * sh[tpb->rank] / (st.compute_s > 0 ? st.compute_s : 1e-9);
        if (s == QT_OK && dpb->world > 1) s = qt_dist_allreduce_raw(dpb, &rate, &rate, 1, QT_DIST_F64, QT_DIST_SUM);
        if (s == QT_OK) s = qt_dist_balance_shares(tpb, rate, sh);
        qt_rec_metric(r, "share_rank0", "fraction", sh[0]);
    }
    if (s == QT_OK) s = qt_dist_mlp_init(&m, dpb, tpb, &cfg);
    if (s == QT_OK) s = train_and_record(m, be, r, cfg.batch, 1, steps);
    qt_dist_mlp_free(m);
    qt_backend_free(dpb);
    qt_backend_free(tpb);
    return s;
}

/* The smaller MLP of the compression and local SGD cases (communication matters more). */
static void small_config(qt_dist_mlp_config_t *cfg, uint64_t seed)
{
    qt_dist_mlp_config_default(cfg);
    cfg->in = 64;
    cfg->hidden = 256;
    cfg->classes = 10;
    cfg->batch = 64;
    cfg->lr = 0.2f;
    cfg->seed = seed;
}

static qt_status_t compress_run(const qt_case_t *c, qt_rec_t *r, uint64_t seed)
{
    qt_backend_t *be = NULL;
    QT_TRY(get_world(c->variant, &be));
    qt_dist_mlp_config_t cfg;
    small_config(&cfg, seed);
    QT_TRY(qt_compress_parse(qt_params_str(&c->params, "scheme", "none"), &cfg.compress.kind));
    cfg.compress.ratio = qt_params_double(&c->params, "ratio", 0.01);
    cfg.compress.levels = (int)qt_params_int(&c->params, "levels", 16);
    cfg.compress.rank = (int)qt_params_int(&c->params, "rank", 4);
    cfg.compress.layerwise = (int)qt_params_int(&c->params, "layerwise", 0);
    cfg.compress.warmup_steps = (int)qt_params_int(&c->params, "warmup", 0);
    cfg.compress.seed = seed;
    int steps = (int)qt_params_int(&c->params, "steps", 60);
    qt_dist_mlp_t *m = NULL;
    QT_TRY(qt_dist_mlp_init(&m, be, NULL, &cfg));
    qt_status_t s = QT_OK;
    double loss = 0;
    qt_dist_stats_t st = {0};
    int64_t last_bytes = -1; /* the bytes axis must grow: one rank sends nothing */
    for (int i = 0; i < steps && s == QT_OK; i++) {
        s = qt_dist_mlp_step(m, i, &loss);
        if (s == QT_OK && (i % 5 == 4 || i == steps - 1)) {
            s = qt_dist_mlp_stats(m, &st, 0);
            qt_rec_series(r, "loss", i + 1, loss);
            if ((int64_t)st.bytes_sent > last_bytes) {
                last_bytes = (int64_t)st.bytes_sent;
                qt_rec_series(r, "loss_vs_bytes", last_bytes, loss);
            }
        }
    }
    if (s == QT_OK) s = qt_dist_mlp_check_replicas(m);
    if (s == QT_OK) {
        double eval = 0;
        for (int b = 0; b < 4 && s == QT_OK; b++) {
            double l = 0;
            s = qt_dist_mlp_eval(m, b, &l);
            eval += l / 4;
        }
        qt_rec_metric(r, "bytes_per_step", "bytes", st.bytes_sent / steps);
        qt_rec_metric(r, "compression_ratio", "ratio", st.bytes_sent > 0 ? st.bytes_logical / st.bytes_sent : 1.0);
        qt_rec_metric(r, "final_loss", "nats", eval);
    }
    qt_dist_mlp_free(m);
    return s;
}

static qt_status_t local_sgd_run(const qt_case_t *c, qt_rec_t *r, uint64_t seed)
{
    qt_backend_t *be = NULL;
    QT_TRY(get_world(c->variant, &be));
    qt_dist_mlp_config_t cfg;
    small_config(&cfg, seed);
    cfg.local_steps = (int)qt_params_int(&c->params, "H", 1);
    int steps = (int)qt_params_int(&c->params, "steps", 48);
    qt_dist_mlp_t *m = NULL;
    QT_TRY(qt_dist_mlp_init(&m, be, NULL, &cfg));
    qt_status_t s = QT_OK;
    double t0 = now_s(), loss = 0;
    for (int i = 0; i < steps && s == QT_OK; i++) {
        s = qt_dist_mlp_step(m, i, NULL);
        if (s == QT_OK && (i + 1) % cfg.local_steps == 0 && (i + 1) % 8 == 0) {
            s = qt_dist_mlp_eval(m, i, &loss);
            qt_rec_series(r, "loss_vs_us", (int64_t)((now_s() - t0) * 1e6), loss);
        }
    }
    if (s == QT_OK) s = qt_dist_mlp_eval(m, 0, &loss);
    if (s == QT_OK) qt_rec_metric(r, "final_loss", "nats", loss);
    qt_dist_mlp_free(m);
    return s;
}

static qt_status_t async_ps_run(const qt_case_t *c, qt_rec_t *r, uint64_t seed)
{
    qt_backend_t *be = NULL;
    QT_TRY(get_world(c->variant, &be));
    if (be->world < 3)
        return qt_fail(QT_ERR_UNSUPPORTED, "a parameter server and >= 2 workers need >= 3 ranks (--ranks 4)");
    qt_dist_mlp_config_t cfg;
    small_config(&cfg, seed);
    cfg.ps = 1;
    cfg.staleness = (int)qt_params_int(&c->params, "s", 0);
    cfg.batch = 1024; /* compute, not message latency, sets a worker's pace */
    cfg.slow_rank = 1;
    cfg.slow_factor = 8;
    int steps = (int)qt_params_int(&c->params, "steps", 48);
    qt_dist_mlp_t *m = NULL;
    QT_TRY(qt_dist_mlp_init(&m, be, NULL, &cfg));
    qt_status_t s = qt_dist_barrier(be);
    double t0 = now_s(), loss = 0;
    for (int i = 0; i < steps && s == QT_OK; i++) {
        int rec = (i + 1) % 8 == 0;
        s = qt_dist_mlp_step(m, i, rec ? &loss : NULL); /* the server's loss: global batch, no messages */
        if (s == QT_OK && rec && be->rank == 0) qt_rec_series(r, "loss_vs_us", (int64_t)((now_s() - t0) * 1e6), loss);
    }
    double t = now_s() - t0;
    qt_dist_stats_t st = {0};
    if (s == QT_OK) s = qt_dist_mlp_eval(m, 0, &loss);
    if (s == QT_OK) s = qt_dist_mlp_check_replicas(m);
    if (s == QT_OK) s = qt_dist_mlp_stats(m, &st, 1);
    if (s == QT_OK) {
        t = max_over(be, t);
        qt_rec_metric(r, "final_loss", "nats", loss);
        qt_rec_metric(r, "samples_per_s", "samples/s", (double)cfg.batch * steps / t);
        qt_rec_metric(r, "ps_max_gap", "steps", (double)st.ps_max_gap);
        qt_rec_metric(r, "ps_mean_delay", "updates", st.ps_mean_delay);
    }
    qt_dist_mlp_free(m);
    return s;
}

/* ---- the case list ---- */

static qt_case_t *add_case(qt_case_list_t *out, const char *name, const char *backend, int world)
{
    qt_case_t *c = qt_case_list_add(out);
    if (!c) return NULL;
    snprintf(c->name, sizeof c->name, "%s", name);
    snprintf(c->variant, sizeof c->variant, "%s", backend);
    qt_params_set_int(&c->params, "ranks", world);
    qt_params_set_str(&c->params, "transport", transport());
    return c;
}

/* train_fusion_dp at k = 1, 2, 4, … ≤ world ranks: the fusion model (width d, feed-forward d_ff)
 * trained data-parallel on a global batch for `steps` steps. */
static qt_status_t add_fusion_dp(qt_case_list_t *out, const char *backend, int world, int64_t batch, int64_t d,
                                 int64_t d_ff, int64_t steps)
{
    for (int k = 1; k <= world; k *= 2) {
        qt_case_t *c = add_case(out, "train_fusion_dp", backend, world);
        if (!c) return qt_fail(QT_ERR_NOMEM, "cases");
        qt_params_set_int(&c->params, "batch", batch);
        qt_params_set_int(&c->params, "d", d);
        qt_params_set_int(&c->params, "d_ff", d_ff);
        qt_params_set_int(&c->params, "k", k);
        qt_params_set_int(&c->params, "steps", steps);
        c->experiment = 1;
        c->run_seed = fusion_dp_run;
    }
    return QT_OK;
}

/* Experiment cases `name` with key = each of values[0..n), `steps` steps, run by fn. */
static qt_status_t add_sweep(qt_case_list_t *out, const char *name, const char *backend, int world, const char *key,
                             const int *values, int n, int steps,
                             qt_status_t (*fn)(const qt_case_t *, qt_rec_t *, uint64_t))
{
    for (int i = 0; i < n; i++) {
        qt_case_t *c = add_case(out, name, backend, world);
        if (!c) return qt_fail(QT_ERR_NOMEM, "cases");
        qt_params_set_int(&c->params, key, values[i]);
        qt_params_set_int(&c->params, "steps", steps);
        c->experiment = 1;
        c->run_seed = fn;
    }
    return QT_OK;
}

/* The collective sweep of one backend: host memory to 256 MiB, GPU memory to 8 GiB. */
static qt_status_t coll_cases(qt_profile_t profile, qt_case_list_t *out, const char *backend, int world, int gpu)
{
    int quick = profile == QT_PROFILE_QUICK;
    /* host: to 128 MiB even in quick (×8 steps: …, 2, 16, 128 MiB), where this VM's cliff is */
    long long max_bytes = gpu ? (quick ? (512ll << 20) : (8ll << 30)) : (quick ? (128ll << 20) : (256ll << 20));
    int step = quick && !gpu ? 8 : 4;
    for (int ci = 0; ci <= QT_COLL_COUNT; ci++) { /* the last: the library's bare blocking all-reduce */
        int bare = ci == QT_COLL_COUNT;
        qt_coll_t coll = bare ? QT_COLL_ALLREDUCE : (qt_coll_t)ci;
        long long top = (coll == QT_COLL_ALLREDUCE || !quick) ? max_bytes : (1ll << 20);
        for (long long b = 8; b <= top; b *= step) {
            char name[48];
            snprintf(name, sizeof name, "coll_%s%s", qt_coll_name(coll), bare ? "_bare" : "");
            qt_case_t *c = add_case(out, name, backend, world);
            if (!c) return qt_fail(QT_ERR_NOMEM, "cases");
            qt_params_set_int(&c->params, "bytes", b);
            qt_params_set_int(&c->params, "coll_id", coll);
            qt_params_set_int(&c->params, "bare", bare);
            c->manual_time = 1;
            c->min_time = b >= (4ll << 20) ? 0.05 : 0.01;
            c->max_repetitions = b >= (1ll << 30) ? 2 : b >= (64ll << 20) ? 3 : 0;
            c->setup = coll_setup;
            c->iterate = coll_iterate;
            c->after = coll_after;
            c->teardown = coll_teardown;
        }
    }
    return QT_OK;
}

static qt_status_t host_cases(qt_profile_t profile, qt_case_list_t *out, const char *backend, int world);
static qt_status_t gpu_train_cases(qt_profile_t profile, qt_case_list_t *out, const char *backend, int world);

static qt_status_t dist_cases(qt_profile_t profile, qt_case_list_t *out)
{
    /* listing must not initialise MPI (a singleton MPI_Init would break the mpirun that
     * calibration's ping-pong starts): the world size comes from the launcher's environment and
     * the communicators are made when the first case runs */
    int world = 1;
    (void)qt_launch_rank(&world);
    for (int i = 0; i < qt_backend_count(); i++) {
        const qt_backend_iface_t *f = qt_backend_iface_get(i);
        if (!f->ops[QT_TECH_DIST] || !qt_backend_iface_available(f, NULL, 0)) continue;
        int gpu = f->device_kind != QT_DEVICE_HOST;
        QT_TRY(coll_cases(profile, out, f->name, world, gpu));
        if (!gpu) QT_TRY(host_cases(profile, out, f->name, world));
        else QT_TRY(gpu_train_cases(profile, out, f->name, world));
    }
    return QT_OK;
}

/* GPU backends: data-parallel training of the MLP on the GPUs (impl/dist/cuda/mlp.cu) at a size
 * where a GPU is busy: in 1024, hidden 4096, 16 classes, global batch 8192 (strong scaling:
 * 8192/k rows per GPU). A step is 4·B·I·H + 6·B·H·C ≈ 141 GFLOP (no input gradient for layer 1):
 * 3.7 ms on one H200 at plain fp32 (38 TFLOP/s, measured) against a 17 MB gradient all-reduce
 * (≈ 0.06 ms at 300 GB/s busbw on 2 GPUs, of which all but the last W1 bucket overlaps the
 * backward): k = 2 reaches the 1.8x target only if the exposed communication and what the
 * smaller per-GPU batch costs stay under ~10% of a step.
 *   train_dp k = 1, 2, 4 … world at DDP's default bucket cap, 25 MiB: layer 2's gradient one
 *       bucket reduced while layer 1's backward runs, W1's gradient ONE GEMM and one bucket, its
 *       all-reduce exposed (~17 MB); and at 4 MiB: W1's gradient in 4 chunks of 1024 rows, each
 *       reduced while the next computes. On 2×H200 (2026-11-30, 8192 rows, k = 2) the chunks
 *       lost: dW1 took 0.83 ms a step against 0.71 ms for the same chunks on one GPU alone (the
 *       NCCL kernels running beside the GEMMs slowed them: 4 MiB 4.26e6 samples/s, 8 MiB 4.36e6,
 *       16 MiB (one GEMM, the same schedule as 25 MiB here) 4.58e6; NCCL_MAX_CTAS=8 made the
 *       chunked ones slower, not faster: 4.09e6, 4.33e6, 4.47e6). Then at 25 MiB: k = 1 2.51e6,
 *       k = 2 4.59e6 samples/s, 1.83x; at 4 MiB 1.71x (one run);
 *   train_dp_weak per_gpu = 4096, 8192 rows per GPU, k = 1 … world, 25 MiB buckets (batch
 *       per_gpu·k: weak scaling, what DDP benchmarks report); k = 1 at 4096 rows is also one
 *       GPU's compute at the per-GPU batch of the strong k = 2 row: the GEMM-shape part of the
 *       strong loss;
 *   train_dp_topk top-k 1% with error feedback on the GPU (k = world);
 *   train_fusion_dp the fusion model (cross-modal attention, d 64, d_ff 256, global batch 8192)
 *       data-parallel, k = 1 … world (fusion_dp_run).
 * The 1 vs 2 GPU samples/s: quintet run dist_throughput --ranks 2 --backend nccl --filter train;
 * finish: scaling_efficiency (strong), scaling_weak, scaling_fusion. */
static qt_status_t gpu_train_cases(qt_profile_t profile, qt_case_list_t *out, const char *backend, int world)
{
    int steps = profile == QT_PROFILE_QUICK ? 50 : 100;
    /* t: 0 train_dp (25 MiB buckets), 1 train_dp at 4 MiB, 2 train_dp_topk, 3 and 4 train_dp_weak */
    for (int t = 0; t < 5; t++)
        for (int k = t == 2 ? world : 1; k <= world; k *= 2) {
            qt_case_t *c = add_case(out, t == 2 ? "train_dp_topk" : t >= 3 ? "train_dp_weak" : "train_dp", backend, world);
            if (!c) return qt_fail(QT_ERR_NOMEM, "cases");
            qt_params_set_str(&c->params, "mode", "dp");
            if (t >= 3) qt_params_set_int(&c->params, "per_gpu", t == 3 ? 4096 : 8192);
            else qt_params_set_int(&c->params, "batch", 8192);
            qt_params_set_int(&c->params, "in", 1024);
            qt_params_set_int(&c->params, "hidden", 4096);
            qt_params_set_int(&c->params, "bucket_bytes", t == 1 ? 4 << 20 : 25 << 20);
            qt_params_set_int(&c->params, "k", k);
            if (t == 2) {
                qt_params_set_str(&c->params, "compress", "topk");
                qt_params_set_double(&c->params, "ratio", 0.01);
            }
            qt_params_set_int(&c->params, "steps", steps);
            c->experiment = 1;
            c->run_seed = train_run;
        }
    /* + 2 warm-up steps: inside the first epoch (16 steps) */
    return add_fusion_dp(out, backend, world, 8192, 64, 256, 13);
}

/* Training, balance, compression and local SGD: impl/dist's MLP runs on host memory. */
static qt_status_t host_cases(qt_profile_t profile, qt_case_list_t *out, const char *backend, int world)
{
    static const char *const modes[] = {"dp", "tp", "hybrid"};
    for (int mi = 0; mi < 4; mi++) /* the last: dp at the old batch 256, to show why 1024 */
        for (int k = 1; k <= world; k *= 2) {
            int m = mi == 3 ? 0 : mi;
            if (m == 2 && k < 4) continue; /* hybrid needs dp ≥ 2 and tp = 2 */
            if (m == 1 && k == 1) continue;   /* tp on one rank is dp on one rank */
            if (mi == 3 && k > 2) continue;
            char name[48];
            snprintf(name, sizeof name, "train_%s", modes[m]);
            qt_case_t *c = add_case(out, name, backend, world);
            if (!c) return qt_fail(QT_ERR_NOMEM, "cases");
            qt_params_set_str(&c->params, "mode", modes[m]);
            qt_params_set_int(&c->params, "batch", mi == 3 ? 256 : 1024);
            qt_params_set_int(&c->params, "k", k);
            qt_params_set_int(&c->params, "steps", profile == QT_PROFILE_QUICK ? 6 : 30);
            c->experiment = 1;
            c->run_seed = train_run;
        }
    for (int bal = 0; bal < 2; bal++) {
        qt_case_t *c = add_case(out, "imbalance", backend, world);
        if (!c) return qt_fail(QT_ERR_NOMEM, "cases");
        qt_params_set_str(&c->params, "shares", bal ? "balanced" : "equal");
        qt_params_set_int(&c->params, "steps", profile == QT_PROFILE_QUICK ? 6 : 30);
        c->experiment = 1;
        c->run_seed = imbalance_run;
    }
    /* Equal steps, and enough of them: top-k with error feedback lags the dense run by a few
     * steps early on (at step 100 of this task about 8 steps, where the dense loss still falls
     * ~2.5% a step) and overtakes it by step ~150, so a comparison at 100 steps measures
     * the lag, not the final loss. The last case is DGC's selection per layer and warm-up. */
    static const char *const splits[] = {"equal", "uneven", "balanced"};
    for (int si = 0; si < 3; si++) {
        qt_case_t *c = add_case(out, "imbalance_tp", backend, world);
        if (!c) return qt_fail(QT_ERR_NOMEM, "cases");
        qt_params_set_str(&c->params, "split", splits[si]);
        qt_params_set_int(&c->params, "steps", profile == QT_PROFILE_QUICK ? 6 : 30);
        c->experiment = 1;
        c->run_seed = imbalance_tp_run;
    }
    static const char *const schemes[] = {"none", "topk", "randomk", "qsgd", "int8", "powersgd", "topk"};
    int csteps = profile == QT_PROFILE_QUICK ? 400 : 1000;
    for (int si = 0; si < 7; si++) {
        /* DGC's variant is its own case name, so that filters on compress/ keep one per scheme */
        qt_case_t *c = add_case(out, si == 6 ? "compress_dgc" : "compress", backend, world);
        if (!c) return qt_fail(QT_ERR_NOMEM, "cases");
        qt_params_set_str(&c->params, "scheme", schemes[si]);
        if (si == 1 || si == 2 || si == 6) qt_params_set_double(&c->params, "ratio", 0.01);
        if (si == 3) qt_params_set_int(&c->params, "levels", 16);
        if (si == 5) qt_params_set_int(&c->params, "rank", 4);
        if (si == 6) {
            qt_params_set_int(&c->params, "layerwise", 1);
            qt_params_set_int(&c->params, "warmup", csteps / 10);
        }
        qt_params_set_int(&c->params, "steps", csteps);
        c->experiment = 1;
        c->run_seed = compress_run;
    }
    static const int Hs[] = {1, 4, 16}, Ss[] = {0, 1, 4};
    int asteps = profile == QT_PROFILE_QUICK ? 48 : 320;
    QT_TRY(add_fusion_dp(out, backend, world, 256, 32, 64, profile == QT_PROFILE_QUICK ? 6 : 13)); /* host-sized */
    QT_TRY(add_sweep(out, "local_sgd", backend, world, "H", Hs, 3, asteps, local_sgd_run));
    QT_TRY(add_sweep(out, "async_ps", backend, world, "s", Ss, 3, asteps, async_ps_run));
    return QT_OK;
}

/* ---- finish: α–β fits, predictions, scaling efficiency, loss relative to dense ---- */
/* Weighted least squares with weights 1/t²: it minimises the RELATIVE error of α + β·S, so the
 * 8-byte cases set α and the large ones β (an unweighted fit over 8 B … 128 MiB lets the large
 * times set α too: 914 µs on this VM, against ~30 µs measured at 8 B). */
typedef struct {
    const char *name, *variant;
    double sw, sx, sy, sxx, sxy; /* Σw, Σwx, Σwy, Σwx², Σwxy */
    int n;
} fit_t;

static int fit_add(void *arg, const qt_result_t *res)
{
    fit_t *f = arg;
    if (strcmp(res->name, f->name) || strcmp(res->variant, f->variant) || !(res->median > 0)) return 0;
    double x = (double)qt_params_int(res->params, "bytes", 0), y = res->median, w = 1.0 / (y * y);
    f->sw += w;
    f->sx += w * x;
    f->sy += w * y;
    f->sxx += w * x * x;
    f->sxy += w * x * y;
    f->n++;
    return 0;
}

typedef struct {
    const char *name, *variant;
    double base;
    int world;
    qt_rec_t *r;
    long long batch;  /* training: the batch whose k = 1 run is the base */
    long long bucket; /* and its bucket_bytes parameter (0: none given) */
} scale_t;

static int find_k1(void *arg, const qt_result_t *res)
{
    scale_t *s = arg;
    if (strcmp(res->variant, s->variant)) return 0;
    if (!strcmp(res->name, "train_dp") && qt_params_int(res->params, "k", 0) == 1 &&
        qt_params_int(res->params, "batch", 0) == s->batch && qt_params_int(res->params, "bucket_bytes", 0) == s->bucket)
        s->base = res->median;
    if (!strcmp(res->name, "compress") && !strcmp(qt_params_str(res->params, "scheme", ""), "none") &&
        !strcmp(s->name, "compress"))
        s->base = res->median;
    return 0;
}

static int emit_eff(void *arg, const qt_result_t *res)
{
    scale_t *s = arg;
    if (strncmp(res->name, "train_", 6) || strstr(res->name, "topk") || strstr(res->name, "weak") ||
        strstr(res->name, "fusion") || strcmp(res->variant, s->variant) || s->base <= 0 ||
        qt_params_int(res->params, "batch", 0) != s->batch || qt_params_int(res->params, "bucket_bytes", 0) != s->bucket)
        return 0;
    double k = (double)qt_params_int(res->params, "k", 1);
    qt_rec_derived(s->r, "scaling", res->variant, res->params, "scaling_efficiency", "ratio", res->median / (k * s->base));
    return 0;
}

/* Scaling efficiency of the cases named `name`: samples_per_s(k) / (k · samples_per_s of the case
 * with the same parameters but k = 1) as derived case `derived` (weak: the batch is per_gpu·k,
 * so "the same parameters" is the same per-GPU batch). */
#define MAX_SCALE 32
typedef struct {
    const char *name, *variant;
    qt_params_t params[MAX_SCALE];
    double median[MAX_SCALE];
    int n;
} kset_t;

static int kset_add(void *arg, const qt_result_t *res)
{
    kset_t *w = arg;
    if (strcmp(res->name, w->name) || strcmp(res->variant, w->variant) || w->n >= MAX_SCALE) return 0;
    w->params[w->n] = *res->params;
    w->median[w->n++] = res->median;
    return 0;
}

static qt_status_t scaling_by_k(qt_rec_t *r, const char *variant, const char *name, const char *derived)
{
    kset_t w = {.name = name, .variant = variant};
    qt_rec_foreach_result(r, "samples_per_s", kset_add, &w);
    for (int i = 0; i < w.n; i++)
        for (int j = 0; j < w.n; j++)
            if (qt_params_int(&w.params[j], "k", 0) == 1 && qt_params_equal_except(&w.params[i], &w.params[j], "k") &&
                w.median[j] > 0) {
                double k = (double)qt_params_int(&w.params[i], "k", 1);
                QT_TRY(qt_rec_derived(r, derived, variant, &w.params[i], "scaling_efficiency", "ratio",
                                      w.median[i] / (k * w.median[j])));
                break;
            }
    return QT_OK;
}

static int emit_rel(void *arg, const qt_result_t *res)
{
    scale_t *s = arg;
    if (strncmp(res->name, "compress", 8) || strcmp(res->variant, s->variant) || s->base <= 0) return 0;
    qt_rec_derived(s->r, "compress_rel", res->variant, res->params, "loss_vs_dense", "ratio", res->median / s->base);
    return 0;
}

static qt_status_t finish_one(qt_rec_t *r, const char *variant, int n);

/* The sweep of one collective: (bytes, busbw) pairs. */
#define MAX_SWEEP 64
typedef struct {
    const char *name, *variant;
    double bytes[MAX_SWEEP], busbw[MAX_SWEEP];
    int n;
} sweep_t;

static int sweep_add(void *arg, const qt_result_t *res)
{
    sweep_t *w = arg;
    if (strcmp(res->name, w->name) || strcmp(res->variant, w->variant) || w->n >= MAX_SWEEP) return 0;
    w->bytes[w->n] = (double)qt_params_int(res->params, "bytes", 0);
    w->busbw[w->n++] = res->median;
    return 0;
}

/* The largest busbw fall between consecutive sizes of collective `name`, as a derived case. */
static qt_status_t record_cliff(qt_rec_t *r, const char *variant, const char *name, int n)
{
    sweep_t w = {.name = name, .variant = variant};
    qt_rec_foreach_result(r, "busbw_gbps", sweep_add, &w);
    for (int i = 1; i < w.n; i++) /* insertion sort by size */
        for (int j = i; j > 0 && w.bytes[j] < w.bytes[j - 1]; j--) {
            double b = w.bytes[j], v = w.busbw[j];
            w.bytes[j] = w.bytes[j - 1];
            w.busbw[j] = w.busbw[j - 1];
            w.bytes[j - 1] = b;
            w.busbw[j - 1] = v;
        }
    int at = -1;
    double worst = 0;
    for (int i = 1; i < w.n; i++) /* from 64 KiB: below, busbw is latency-bound and noisy */
        if (w.bytes[i - 1] >= 65536 && w.busbw[i] > 0 && w.busbw[i - 1] / w.busbw[i] > worst) {
            worst = w.busbw[i - 1] / w.busbw[i];
            at = i;
        }
    if (at < 0) return QT_OK;
    qt_params_t p = {0};
    qt_params_set_str(&p, "coll", name + 5);
    qt_params_set_int(&p, "ranks", n);
    qt_params_set_str(&p, "transport", transport());
    qt_params_set_int(&p, "bytes", (long long)w.bytes[at]);
    qt_params_set_int(&p, "from_bytes", (long long)w.bytes[at - 1]);
    return qt_rec_derived(r, "busbw_cliff", variant, &p, "busbw_drop", "ratio", worst);
}

static qt_status_t dist_finish(qt_rec_t *r)
{
    start_worlds();
    for (int i = 0; i < n_worlds; i++)
        if (worlds[i].be->world >= 2) QT_TRY(finish_one(r, worlds[i].name, worlds[i].be->world));
    return QT_OK;
}

/* The measured 1-rank step time of train_dp at batch 1024 (the base of the predictions). */
static int find_step(void *arg, const qt_result_t *res)
{
    scale_t *s = arg;
    if (!strcmp(res->variant, s->variant) && !strcmp(res->name, "train_dp") &&
        qt_params_int(res->params, "k", 0) == 1 && qt_params_int(res->params, "batch", 0) == s->batch)
        s->base = res->median;
    return 0;
}

static const int predict_ranks[] = {8, 64, 512, 1024};

/* Ring and tree all-reduce time of S bytes at p ranks from the per-hop α₀, β₀ (s, s/byte). */
static void predict_allreduce(double a0, double b0, double S, int p, double *ring, double *tree)
{
    *ring = 2.0 * (p - 1) * a0 + 2.0 * (p - 1) / p * S * b0;
    *tree = 2.0 * ceil(log2(p)) * (a0 + S * b0);
}

/* Scaling efficiency of DP training predicted from the all-reduce fit and the measured 1-rank
 * step (train_dp k=1 batch 1024, step time t), no overlap of communication with compute:
 * weak scaling (batch 1024 per rank) t / (t + T_ar(p)); strong (global batch 1024)
 * (t / p) / (t / p + T_ar(p)); T_ar of the gradient (4 bytes per parameter). */
static qt_status_t predict_scaling(qt_rec_t *r, const char *variant, int n, double a0, double b0)
{
    scale_t s = {"train", variant, 0, n, r, 1024, 0};
    qt_rec_foreach_result(r, "step_s", find_step, &s);
    if (s.base <= 0) return QT_OK;
    qt_dist_mlp_config_t cfg;
    train_config(&cfg, 0);
    double S = 4.0 * ((double)cfg.in * cfg.hidden + cfg.hidden + (double)cfg.hidden * cfg.classes + cfg.classes);
    for (size_t i = 0; i < sizeof predict_ranks / sizeof predict_ranks[0]; i++) {
        int pr = predict_ranks[i];
        double ring, tree, t = s.base;
        predict_allreduce(a0, b0, S, pr, &ring, &tree);
        qt_params_t q = {0};
        qt_params_set_int(&q, "ranks", n);
        qt_params_set_str(&q, "transport", transport());
        qt_params_set_int(&q, "predict_ranks", pr);
        qt_params_set_int(&q, "grad_bytes", (long long)S);
        QT_TRY(qt_rec_derived(r, "scaling_predict", variant, &q, "pred_eff_weak_ring", "ratio", t / (t + ring)));
        QT_TRY(qt_rec_derived(r, "scaling_predict", variant, &q, "pred_eff_weak_tree", "ratio", t / (t + tree)));
        QT_TRY(qt_rec_derived(r, "scaling_predict", variant, &q, "pred_eff_strong_ring", "ratio",
                              (t / pr) / (t / pr + ring)));
        QT_TRY(qt_rec_derived(r, "scaling_predict", variant, &q, "pred_eff_strong_tree", "ratio",
                              (t / pr) / (t / pr + tree)));
    }
    return QT_OK;
}

/* One backend's fits, predictions and ratios. */
static qt_status_t finish_one(qt_rec_t *r, const char *variant, int n)
{
    double a0 = NAN, b0 = NAN;
    for (int ci = 0; ci <= QT_COLL_COUNT; ci++) {
        char name[48];
        snprintf(name, sizeof name, "coll_%s%s", qt_coll_name(ci == QT_COLL_COUNT ? QT_COLL_ALLREDUCE : (qt_coll_t)ci),
                 ci == QT_COLL_COUNT ? "_bare" : "");
        QT_TRY(record_cliff(r, variant, name, n));
        fit_t f = {name, variant, 0, 0, 0, 0, 0, 0};
        qt_rec_foreach_result(r, "time_s", fit_add, &f);
        if (f.n < 2) continue;
        double beta = (f.sw * f.sxy - f.sx * f.sy) / (f.sw * f.sxx - f.sx * f.sx);
        double alpha = (f.sy - beta * f.sx) / f.sw;
        qt_params_t p = {0};
        qt_params_set_str(&p, "coll", name + 5);
        qt_params_set_int(&p, "ranks", n);
        qt_params_set_str(&p, "transport", transport());
        QT_TRY(qt_rec_derived(r, "alpha_beta", variant, &p, "alpha_us", "us", alpha * 1e6));
        QT_TRY(qt_rec_derived(r, "alpha_beta", variant, &p, "beta_gbps", "GB/s", beta > 0 ? 1.0 / beta / 1e9 : NAN));
        if (ci != QT_COLL_ALLREDUCE) continue;
        a0 = alpha / (2.0 * (n - 1));
        b0 = beta * n / (2.0 * (n - 1));
        double S = 64.0 * (1 << 20);
        for (size_t i = 0; i < sizeof predict_ranks / sizeof predict_ranks[0]; i++) {
            int pr = predict_ranks[i];
            qt_params_t q = p;
            qt_params_set_int(&q, "predict_ranks", pr);
            qt_params_set_int(&q, "bytes", (long long)S);
            double ring, tree;
            predict_allreduce(a0, b0, S, pr, &ring, &tree);
            QT_TRY(qt_rec_derived(r, "allreduce_predict", variant, &q, "pred_ring_s", "s", ring));
            QT_TRY(qt_rec_derived(r, "allreduce_predict", variant, &q, "pred_tree_s", "s", tree));
        }
    }
    if (isfinite(a0) && isfinite(b0)) QT_TRY(predict_scaling(r, variant, n, a0, b0));
    static const long long batches[] = {256, 1024, 8192}; /* host cases: 256, 1024; GPU: 8192 */
    static const long long buckets[] = {0, 4 << 20, 25 << 20}; /* host: none given; GPU: 25 and 4 MiB */
    for (int bi = 0; bi < 3; bi++)
        for (int ki = 0; ki < 3; ki++) {
            scale_t s = {"train", variant, 0, n, r, batches[bi], buckets[ki]};
            qt_rec_foreach_result(r, "samples_per_s", find_k1, &s);
            qt_rec_foreach_result(r, "samples_per_s", emit_eff, &s);
        }
    QT_TRY(scaling_by_k(r, variant, "train_dp_weak", "scaling_weak"));
    QT_TRY(scaling_by_k(r, variant, "train_fusion_dp", "scaling_fusion"));
    scale_t c = {"compress", variant, 0, n, r, 0, 0};
    qt_rec_foreach_result(r, "final_loss", find_k1, &c);
    qt_rec_foreach_result(r, "final_loss", emit_rel, &c);
    return QT_OK;
}

static const char *const dist_metrics[] = {
    "time_s|s|one collective, max over ranks",
    "algbw_gbps|GB/s|nccl-tests algorithm bandwidth S / t",
    "busbw_gbps|GB/s|nccl-tests bus bandwidth: algbw x 2(n-1)/n (all-reduce), (n-1)/n (reduce-scatter, all-gather, all-to-all), 1 (broadcast)",
    "wrong_values|count|received values differing from the exact seeded result, all ranks",
    "alpha_us|us|fitted latency of time = alpha + beta S",
    "beta_gbps|GB/s|fitted bandwidth 1/beta",
    "busbw_drop|ratio|largest fall of busbw between consecutive sizes: busbw(from_bytes) / busbw(bytes)",
    "pred_ring_s|s|predicted 64 MiB all-reduce time at predict_ranks, ring",
    "pred_tree_s|s|predicted 64 MiB all-reduce time at predict_ranks, binary tree",
    "pred_eff_weak_ring|ratio|predicted DP scaling efficiency at predict_ranks, batch 1024 per rank, ring all-reduce, no overlap",
    "pred_eff_weak_tree|ratio|the same with a binary-tree all-reduce",
    "pred_eff_strong_ring|ratio|predicted DP scaling efficiency at predict_ranks, global batch 1024, ring all-reduce, no overlap",
    "pred_eff_strong_tree|ratio|the same with a binary-tree all-reduce",
    "share_rank0|fraction|the balancer's share of (tp or dp) rank 0",
    "samples_per_s|samples/s|training throughput (max time over ranks)",
    "scaling_efficiency|ratio|samples_per_s(k) / (k samples_per_s(1))",
    "load_imbalance|ratio|max over mean per-rank compute time",
    "slowest_rank|rank|rank with the most compute time",
    "comm_frac|ratio|time waiting in communication / step time",
    "compute_step_s|s|compute time per step of the slowest rank (halves from k = 1 to 2 only when each rank has a free core)",
    "fwd_step_s|s|GPU MLP: forward + loss per step (slowest rank)",
    "bwd2_step_s|s|GPU MLP: layer 2's backward per step (slowest rank)",
    "relu_db1_step_s|s|GPU MLP: relu' and the layer-1 bias gradient per step (slowest rank)",
    "dw1_step_s|s|GPU MLP: the layer-1 weight gradient (its chunks, overlapping their all-reduces) per step (slowest rank)",
    "tflops|TFLOP/s|fusion DP: 3 x the model's forward matrix-product FLOPs per sample x samples/s",
    "bytes_per_step|bytes|gradient bytes this rank sent per step",
    "compression_ratio|ratio|dense f32 bytes / bytes sent",
    "final_loss|nats|mean cross-entropy at the end",
    "loss_vs_dense|ratio|final_loss / final_loss without compression",
    "ps_max_gap|steps|parameter server: largest clock gap between workers it allowed (<= s)",
    "ps_mean_delay|updates|parameter server: updates applied between a worker's parameters and its gradient",
    NULL,
};

const qt_suite_t qt_suite_dist_throughput = {
    .name = "dist_throughput",
    .description = "MPI and NCCL collectives (busbw vs size, alpha-beta), DP/TP/hybrid training scaling, compression, local SGD, async PS",
    .metrics = dist_metrics,
    .cases = dist_cases,
    .finish = dist_finish,
};
