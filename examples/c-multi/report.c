#include <stdio.h>

#include "stats.h"

int main(void) {
    const double values[] = {3, 1, 4, 1, 5, 9, 2, 6};
    size_t count = sizeof values / sizeof values[0];
    printf("mean %.3f, largest %.0f\n", mean(values, count), largest(values, count));
    return 0;
}
