int main(void) {
    volatile int *p = 0;
    *p = 42;  /* a write to address 0: SIGSEGV */
    return 0;
}
