#include "util.h"

#include <numeric>

std::string greet(const std::string& name) { return "Hello, " + name + "!"; }

long sum(const std::vector<long>& values) { return std::accumulate(values.begin(), values.end(), 0L); }
