#include "stats.h"

double mean(const double *values, size_t count) {
    double sum = 0;
    for (size_t i = 0; i < count; i++) sum += values[i];
    return count ? sum / count : 0;
}

double largest(const double *values, size_t count) {
    double best = count ? values[0] : 0;
    for (size_t i = 1; i < count; i++) if (values[i] > best) best = values[i];
    return best;
}
