/* A shared object that is no plugin: it exports a function, but not mwp_plugin_entry.
 * mwverify must say that the symbol is missing, not crash. */
int mwp_plugin_entry_is_not_here(void);

int mwp_plugin_entry_is_not_here(void)
{
    return 42;
}
