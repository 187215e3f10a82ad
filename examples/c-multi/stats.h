#pragma once
#include <stddef.h>

double mean(const double *values, size_t count);
double largest(const double *values, size_t count);
