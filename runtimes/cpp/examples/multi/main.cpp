#include <iostream>

#include "util.h"

int main(int argc, char** argv) {
    std::cout << greet("world") << "\n";
    std::cout << "sum=" << sum({1, 2, 3, 4}) << "\n";
    for (int i = 1; i < argc; ++i) std::cout << "arg: " << argv[i] << "\n";
    return 0;
}
