#pragma once
#include <string>
#include <vector>

// Declared here, defined in util.cpp: the example needs both translation units linked.
std::string greet(const std::string& name);
long sum(const std::vector<long>& values);
