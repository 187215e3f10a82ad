#include <stdio.h>
#include <stdlib.h>

int main(void) {
    const char *debug = getenv("DEBUG");
    printf("DEBUG=%s\n", debug ? debug : "(unset)");
    return 0;
}
