/* Statistics of feature sets: Gaussian fits, Fréchet distance, KID,
 * precision and recall. Double precision throughout; the heavy parts are
 * OpenBLAS dgemm/dsyrk and LAPACK's dsyevd. */
#include "ganrt/stats.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ganrt/kernels.h"
#include "ganrt/status.h"

/* LAPACK's symmetric eigensolver (Fortran ABI: trailing string lengths). */
extern void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
                    double *work, const int *lwork, int *iwork, const int *liwork, int *info, size_t jobz_len,
                    size_t uplo_len);

/* Rows of a block of pairwise distances: 256 x N doubles at a time. */
enum { BLOCK_ROWS = 256 };

/* x (N, D) float -> a new row-major double array, or NULL with a message. */
static double *as_doubles(const gr_tensor *x, const char *fn, const char *arg, int64_t *n, int *d) {
  if (!x) return NULL;
  if (x->dtype != GR_F32 || x->ndim != 2)
    return gr_fail_null(GR_EARG, "%s: %s must be a float32 matrix (N, D), got %s %s", fn, arg,
                        gr_dtype_name(x->dtype), gr_shape_str(x));
  if (x->shape[0] < 1 || x->shape[1] < 1 || x->shape[1] > 65536)
    return gr_fail_null(GR_EARG, "%s: %s has shape %s; it needs at least one vector of 1 to 65536 features",
                        fn, arg, gr_shape_str(x));
  *n = x->shape[0];
  *d = (int)x->shape[1];
  double *out = malloc((size_t)*n * (size_t)*d * sizeof(double));
  if (!out) return gr_fail_null(GR_ENOMEM, "%s: out of memory for %s %s", fn, arg, gr_shape_str(x));
  gr_read_all(x, out);
  for (int64_t i = 0; i < *n * *d; i++) {
    if (!isfinite(out[i])) {
      free(out);
      return gr_fail_null(GR_EARG, "%s: %s holds a NaN or infinite value (row %lld)", fn, arg,
                          (long long)(i / *d + gr_dim_shown(0)));
    }
  }
  return out;
}

static gr_gauss *gauss_alloc(int d) {
  gr_gauss *g = calloc(1, sizeof *g);
  if (g) {
    g->d = d;
    g->mean = calloc((size_t)d, sizeof(double));
    g->cov = calloc((size_t)d * (size_t)d, sizeof(double));
  }
  if (!g || !g->mean || !g->cov) {
    gr_gauss_free(g);
    return gr_fail_null(GR_ENOMEM, "gauss: out of memory for %d features", d);
  }
  return g;
}

void gr_gauss_free(gr_gauss *g) {
  if (!g) return;
  free(g->mean);
  free(g->cov);
  free(g);
}

gr_gauss *gr_gauss_fit(const gr_tensor *x) {
  int64_t n;
  int d;
  double *a = as_doubles(x, "gauss_fit", "x", &n, &d);
  if (!a) return NULL;
  if (n < 2) {
    free(a);
    return gr_fail_null(GR_EARG, "gauss_fit: a covariance needs at least 2 vectors, got %s", gr_shape_str(x));
  }
  gr_gauss *g = gauss_alloc(d);
  if (!g) {
    free(a);
    return NULL;
  }
  g->n = n;
  for (int64_t i = 0; i < n; i++)
    for (int j = 0; j < d; j++) g->mean[j] += a[i * d + j];
  for (int j = 0; j < d; j++) g->mean[j] /= (double)n;
  for (int64_t i = 0; i < n; i++)
    for (int j = 0; j < d; j++) a[i * d + j] -= g->mean[j];
  // cov = a^T a / (n - 1): the upper triangle by dsyrk, then mirrored
  cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, (int)n, 1.0 / (double)(n - 1), a, d, 0.0, g->cov, d);
  for (int i = 0; i < d; i++)
    for (int j = 0; j < i; j++) g->cov[i * d + j] = g->cov[j * d + i];
  free(a);
  return g;
}

gr_gauss *gr_gauss_new(const gr_tensor *mean, const gr_tensor *cov) {
  if (!mean || !cov) return NULL;
  if (mean->dtype != GR_F32 || cov->dtype != GR_F32 || mean->ndim != 1 || cov->ndim != 2 ||
      cov->shape[0] != mean->shape[0] || cov->shape[1] != mean->shape[0] || mean->shape[0] < 1 ||
      mean->shape[0] > 65536)
    return gr_fail_null(GR_EARG, "gauss: mean %s and covariance %s must be float32 (D) and (D, D)",
                        gr_shape_str(mean), gr_shape_str(cov));
  int d = (int)mean->shape[0];
  gr_gauss *g = gauss_alloc(d);
  if (!g) return NULL;
  gr_read_all(mean, g->mean);
  gr_read_all(cov, g->cov);
  for (int i = 0; i < d; i++) {
    for (int j = 0; j < d; j++) {
      double u = g->cov[i * d + j], v = g->cov[j * d + i];
      if (!isfinite(u) || fabs(u - v) > 1e-4 * (fabs(u) + fabs(v) + 1e-12)) {
        gr_gauss_free(g);
        return gr_fail_null(GR_EARG, "gauss: the covariance is not symmetric and finite (at [%d, %d])",
                            i + gr_dim_shown(0), j + gr_dim_shown(0));
      }
    }
  }
  return g;
}

/* Eigenvalues (w, ascending) and, with vectors, eigenvectors as the ROWS of a
 * (n x n, overwritten). a must be symmetric. */
static gr_status sym_eig(int n, double *a, double *w, int vectors) {
  const char jobz = vectors ? 'V' : 'N', uplo = 'U';
  int lwork = -1, liwork = -1, info = 0, iq;
  double q;
  dsyevd_(&jobz, &uplo, &n, a, &n, w, &q, &lwork, &iq, &liwork, &info, 1, 1);
  if (info != 0) return gr_fail(GR_EARG, "frechet: LAPACK dsyevd workspace query failed (info %d)", info);
  lwork = (int)q;
  liwork = iq;
  double *work = malloc((size_t)lwork * sizeof(double));
  int *iwork = malloc((size_t)liwork * sizeof(int));
  if (!work || !iwork) {
    free(work);
    free(iwork);
    return gr_fail(GR_ENOMEM, "frechet: out of memory for the eigendecomposition of %d x %d", n, n);
  }
  dsyevd_(&jobz, &uplo, &n, a, &n, w, work, &lwork, iwork, &liwork, &info, 1, 1);
  free(work);
  free(iwork);
  if (info != 0) return gr_fail(GR_EARG, "frechet: the eigendecomposition did not converge (info %d)", info);
  return GR_OK;
}

gr_status gr_frechet(const gr_gauss *a, const gr_gauss *b, double *out) {
  if (!a || !b || !out) return gr_fail(GR_EARG, "frechet: missing argument");
  if (a->d != b->d) return gr_fail(GR_EARG, "frechet: the Gaussians have %d and %d features", a->d, b->d);
  int d = a->d;
  size_t dd = (size_t)d * (size_t)d;
  double *e = malloc(dd * sizeof(double)), *s = malloc(dd * sizeof(double)), *t = malloc(dd * sizeof(double));
  double *w = malloc((size_t)d * sizeof(double));
  gr_status st = GR_ENOMEM;
  if (!e || !s || !t || !w) {
    st = gr_fail(GR_ENOMEM, "frechet: out of memory for %d features", d);
    goto done;
  }
  // S = C1^(1/2) = E^T diag(sqrt(l)) E with the eigenvectors as the rows of E
  memcpy(e, a->cov, dd * sizeof(double));
  if ((st = sym_eig(d, e, w, 1)) != GR_OK) goto done;
  for (int j = 0; j < d; j++) {
    double r = sqrt(sqrt(w[j] > 0 ? w[j] : 0));
    for (int k = 0; k < d; k++) e[(size_t)j * d + k] *= r;
  }
  cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, d, d, d, 1.0, e, d, e, d, 0.0, s, d);
  // M = S C2 S, symmetric positive semi-definite; its eigenvalues are those of C1 C2
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d, d, d, 1.0, s, d, b->cov, d, 0.0, t, d);
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d, d, d, 1.0, t, d, s, d, 0.0, e, d);
  for (int i = 0; i < d; i++) {  // symmetrize away rounding before the solver
    for (int j = 0; j < i; j++) {
      double v = 0.5 * (e[(size_t)i * d + j] + e[(size_t)j * d + i]);
      e[(size_t)i * d + j] = e[(size_t)j * d + i] = v;
    }
  }
  if ((st = sym_eig(d, e, w, 0)) != GR_OK) goto done;
  double tr_sqrt = 0, tr = 0, dm = 0;
  for (int j = 0; j < d; j++) tr_sqrt += sqrt(w[j] > 0 ? w[j] : 0);
  for (int j = 0; j < d; j++) {
    tr += a->cov[(size_t)j * d + j] + b->cov[(size_t)j * d + j];
    dm += (a->mean[j] - b->mean[j]) * (a->mean[j] - b->mean[j]);
  }
  double fd = dm + tr - 2 * tr_sqrt;
  *out = fd > 0 ? fd : 0;  // a set against itself rounds to about -1e-12
  st = GR_OK;
done:
  free(e);
  free(s);
  free(t);
  free(w);
  return st;
}

/* splitmix64: the subsets of KID, reproducible from the seed alone */
static uint64_t splitmix(uint64_t *state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/* The first m entries of a seeded permutation of 0..n-1, as rows copied into dst (m, d). */
static void draw_rows(const double *src, int64_t n, int d, int m, uint64_t *rng, int64_t *perm, double *dst) {
  for (int64_t i = 0; i < n; i++) perm[i] = i;
  for (int i = 0; i < m; i++) {
    int64_t j = i + (int64_t)(splitmix(rng) % (uint64_t)(n - i));
    int64_t tmp = perm[i];
    perm[i] = perm[j];
    perm[j] = tmp;
    memcpy(dst + (size_t)i * d, src + (size_t)perm[i] * d, (size_t)d * sizeof(double));
  }
}

/* Sum of (g / d + 1)^3 over a gram matrix (m1 x m2); without its diagonal when skip_diag. */
static double kernel_sum(const double *g, int m1, int m2, int d, int skip_diag) {
  double total = 0;
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) reduction(+ : total) if ((int64_t)m1 * m2 > 100000)
  for (int i = 0; i < m1; i++) {
    double row = 0;
    for (int j = 0; j < m2; j++) {
      if (skip_diag && i == j) continue;
      double k = g[(size_t)i * m2 + j] / d + 1;
      row += k * k * k;
    }
    total += row;
  }
  return total;
}

gr_status gr_kid(const gr_tensor *x, const gr_tensor *y, int subsets, int size, uint64_t seed, double *mean,
                 double *std) {
  int64_t nx, ny;
  int dx, dy;
  if (subsets < 1 || size < 2)
    return gr_fail(GR_EARG, "kid: subsets (%d) must be >= 1 and the subset size (%d) >= 2", subsets, size);
  double *a = as_doubles(x, "kid", "x", &nx, &dx);
  if (!a) return gr_errcode();
  double *b = as_doubles(y, "kid", "y", &ny, &dy);
  if (!b) {
    free(a);
    return gr_errcode();
  }
  gr_status st = GR_OK;
  double *sa = NULL, *sb = NULL, *g = NULL, *vals = NULL;
  int64_t *perm = NULL;
  if (dx != dy) {
    st = gr_fail(GR_EARG, "kid: x %s and y %s have different feature sizes", gr_shape_str(x), gr_shape_str(y));
    goto done;
  }
  if (size > nx || size > ny) {
    st = gr_fail(GR_EARG, "kid: a subset of %d needs at least that many vectors in x %s and y %s", size,
                 gr_shape_str(x), gr_shape_str(y));
    goto done;
  }
  int d = dx, m = size;
  sa = malloc((size_t)m * d * sizeof(double));
  sb = malloc((size_t)m * d * sizeof(double));
  g = malloc((size_t)m * m * sizeof(double));
  vals = malloc((size_t)subsets * sizeof(double));
  perm = malloc((size_t)(nx > ny ? nx : ny) * sizeof(int64_t));
  if (!sa || !sb || !g || !vals || !perm) {
    st = gr_fail(GR_ENOMEM, "kid: out of memory for subsets of %d x %d", m, d);
    goto done;
  }
  uint64_t rng = seed;
  for (int s = 0; s < subsets; s++) {
    draw_rows(a, nx, d, m, &rng, perm, sa);
    draw_rows(b, ny, d, m, &rng, perm, sb);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, m, d, 1.0, sa, d, sa, d, 0.0, g, m);
    double kxx = kernel_sum(g, m, m, d, 1);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, m, d, 1.0, sb, d, sb, d, 0.0, g, m);
    double kyy = kernel_sum(g, m, m, d, 1);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, m, d, 1.0, sa, d, sb, d, 0.0, g, m);
    double kxy = kernel_sum(g, m, m, d, 0);
    vals[s] = (kxx + kyy) / ((double)m * (m - 1)) - 2 * kxy / ((double)m * m);
  }
  double mu = 0, var = 0;
  for (int s = 0; s < subsets; s++) mu += vals[s];
  mu /= subsets;
  for (int s = 0; s < subsets; s++) var += (vals[s] - mu) * (vals[s] - mu);
  *mean = mu;
  *std = subsets > 1 ? sqrt(var / (subsets - 1)) : 0;
done:
  free(a);
  free(b);
  free(sa);
  free(sb);
  free(g);
  free(vals);
  free(perm);
  return st;
}

static void row_norms(const double *a, int64_t n, int d, double *out) {
  for (int64_t i = 0; i < n; i++) {
    double s = 0;
    for (int j = 0; j < d; j++) s += a[i * d + j] * a[i * d + j];
    out[i] = s;
  }
}

/* Squared distances between rows r0..r0+rows-1 of a and every row of b:
 * dist (rows x nb) = |a_i|^2 + |b_j|^2 - 2 a_i.b_j, clamped at 0. */
static void block_dist(const double *a, const double *na, int64_t r0, int rows, const double *b, const double *nb,
                       int64_t n_b, int d, double *dist) {
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, (int)n_b, d, -2.0, a + r0 * d, d, b, d, 0.0, dist,
              (int)n_b);
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) if ((int64_t)rows * n_b > 100000)
  for (int i = 0; i < rows; i++) {
    double *row = dist + (size_t)i * n_b;
    for (int64_t j = 0; j < n_b; j++) {
      double v = row[j] + na[r0 + i] + nb[j];
      row[j] = v > 0 ? v : 0;
    }
  }
}

/* radius[i] = squared distance from row i of a to its k-th nearest other row. */
static void knn_radii(const double *a, const double *na, int64_t n, int d, int k, double *radius,
                           double *dist) {
  for (int64_t r0 = 0; r0 < n; r0 += BLOCK_ROWS) {
    int rows = (int)(n - r0 < BLOCK_ROWS ? n - r0 : BLOCK_ROWS);
    block_dist(a, na, r0, rows, a, na, n, d, dist);
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) if ((int64_t)rows * n > 100000)
    for (int i = 0; i < rows; i++) {
      double best[64];  // the k smallest so far, ascending (k <= 64)
      int have = 0;
      const double *row = dist + (size_t)i * n;
      for (int64_t j = 0; j < n; j++) {
        if (j == r0 + i) continue;
        double v = row[j];
        if (have == k && v >= best[k - 1]) continue;
        int p = have < k ? have++ : k - 1;
        while (p > 0 && best[p - 1] > v) {
          best[p] = best[p - 1];
          p--;
        }
        best[p] = v;
      }
      radius[r0 + i] = best[k - 1];
    }
  }
}

/* The share of rows of q inside at least one ball (centre a row of p, squared radius rp). */
static double share_inside(const double *q, const double *nq, int64_t nqr, const double *p, const double *np,
                           const double *rp, int64_t npr, int d, double *dist) {
  int64_t inside = 0;
  for (int64_t r0 = 0; r0 < nqr; r0 += BLOCK_ROWS) {
    int rows = (int)(nqr - r0 < BLOCK_ROWS ? nqr - r0 : BLOCK_ROWS);
    block_dist(q, nq, r0, rows, p, np, npr, d, dist);
#pragma omp parallel for num_threads(gr_threads_running()) schedule(static) reduction(+ : inside) if ((int64_t)rows * npr > 100000)
    for (int i = 0; i < rows; i++) {
      const double *row = dist + (size_t)i * npr;
      for (int64_t j = 0; j < npr; j++) {
        if (row[j] <= rp[j]) {
          inside++;
          break;
        }
      }
    }
  }
  return (double)inside / (double)nqr;
}

gr_status gr_precision_recall(const gr_tensor *real, const gr_tensor *fake, int k, double *precision,
                              double *recall) {
  int64_t nr, nf;
  int dr, df;
  if (k < 1 || k > 64) return gr_fail(GR_EARG, "precision_recall: k must be 1 to 64, got %d", k);
  double *r = as_doubles(real, "precision_recall", "real", &nr, &dr);
  if (!r) return gr_errcode();
  double *f = as_doubles(fake, "precision_recall", "fake", &nf, &df);
  if (!f) {
    free(r);
    return gr_errcode();
  }
  gr_status st = GR_OK;
  double *nrm_r = NULL, *nrm_f = NULL, *rad_r = NULL, *rad_f = NULL, *dist = NULL;
  if (dr != df) {
    st = gr_fail(GR_EARG, "precision_recall: real %s and fake %s have different feature sizes",
                 gr_shape_str(real), gr_shape_str(fake));
    goto done;
  }
  if (nr <= k || nf <= k) {
    st = gr_fail(GR_EARG, "precision_recall: k = %d needs more than %d vectors in real %s and fake %s", k, k,
                 gr_shape_str(real), gr_shape_str(fake));
    goto done;
  }
  int64_t nmax = nr > nf ? nr : nf;
  nrm_r = malloc((size_t)nr * sizeof(double));
  nrm_f = malloc((size_t)nf * sizeof(double));
  rad_r = malloc((size_t)nr * sizeof(double));
  rad_f = malloc((size_t)nf * sizeof(double));
  dist = malloc((size_t)BLOCK_ROWS * (size_t)nmax * sizeof(double));
  if (!nrm_r || !nrm_f || !rad_r || !rad_f || !dist) {
    st = gr_fail(GR_ENOMEM, "precision_recall: out of memory for %lld and %lld vectors", (long long)nr,
                 (long long)nf);
    goto done;
  }
  row_norms(r, nr, dr, nrm_r);
  row_norms(f, nf, dr, nrm_f);
  knn_radii(r, nrm_r, nr, dr, k, rad_r, dist);
  knn_radii(f, nrm_f, nf, dr, k, rad_f, dist);
  *precision = share_inside(f, nrm_f, nf, r, nrm_r, rad_r, nr, dr, dist);
  *recall = share_inside(r, nrm_r, nr, f, nrm_f, rad_f, nf, dr, dist);
done:
  free(r);
  free(f);
  free(nrm_r);
  free(nrm_f);
  free(rad_r);
  free(rad_f);
  free(dist);
  return st;
}
