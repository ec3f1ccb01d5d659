/* Statistics of sets of feature vectors, for measuring what a GAN made.
 *
 * A set is a float tensor (N, D): N vectors of D features (a classifier's
 * penultimate layer, or 2-D points). Everything here is computed in double
 * precision and is deterministic for a given input (and seed, for KID).
 *
 *     gr_gauss *a = gr_gauss_fit(real), *b = gr_gauss_fit(fake);
 *     double fd;
 *     gr_frechet(a, b, &fd);            // FID's formula on our features
 */
#ifndef GANRT_STATS_H
#define GANRT_STATS_H

#include <stdint.h>

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A Gaussian fit: mean (d) and covariance (d x d, row-major, symmetric). */
typedef struct gr_gauss {
  int d;
  int64_t n;   /* the number of vectors fitted (0 when given directly) */
  double *mean;
  double *cov;
} gr_gauss;

/* The sample mean and the unbiased covariance (divided by N - 1) of x (N, D), N >= 2. */
gr_gauss *gr_gauss_fit(const gr_tensor *x);
/* A Gaussian from a mean (D) and a covariance (D, D) given as float tensors. */
gr_gauss *gr_gauss_new(const gr_tensor *mean, const gr_tensor *cov);
void gr_gauss_free(gr_gauss *g);

/* The Fréchet distance between two Gaussians:
 *   |mu1 - mu2|^2 + tr(C1) + tr(C2) - 2 tr((C1 C2)^(1/2)),
 * with tr((C1 C2)^(1/2)) = tr((S C2 S)^(1/2)) where S = C1^(1/2): two symmetric
 * eigendecompositions (LAPACK dsyevd); eigenvalues below zero (rounding of a
 * singular covariance) count as zero. */
gr_status gr_frechet(const gr_gauss *a, const gr_gauss *b, double *out);

/* Kernel inception distance: the unbiased estimate of MMD^2 with the kernel
 * k(x, y) = (x.y / D + 1)^3, averaged over `subsets` random subsets of
 * `size` vectors from each set (drawn without replacement; seeded). */
gr_status gr_kid(const gr_tensor *x, const gr_tensor *y, int subsets, int size, uint64_t seed,
                 double *mean, double *std);

/* Improved precision and recall (Kynkäänniemi et al. 2019). Each vector of a
 * set owns a ball reaching its k-th nearest neighbour in its own set.
 * precision: the share of `fake` inside at least one ball of `real`;
 * recall: the share of `real` inside at least one ball of `fake`. */
gr_status gr_precision_recall(const gr_tensor *real, const gr_tensor *fake, int k, double *precision,
                              double *recall);

#ifdef __cplusplus
}
#endif
#endif
