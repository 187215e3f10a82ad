// Does not compile on purpose: the compile stage must fail with g++'s message on stderr.
#include <iostream>

int main() {
    std::cout << undeclared_name << "\n";
}
