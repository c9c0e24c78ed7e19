/* no_symbol.c: a shared object that exports no "swx_plugin" symbol, as when
 * a config names the wrong library. */
__attribute__((visibility("default"))) int not_a_swx_plugin(void);

int not_a_swx_plugin(void)
{
    return 42;
}
