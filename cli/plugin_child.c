/* --layer-plugin's child (args.h): the command goes on in a fork that loads the plugin. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "args.h"
#include "cli.h"
#include "mw_child.h"
#include "plugin.h"

static volatile pid_t child;

static void pass_on(int sig)
{
    if (child > 0)
        kill(child, sig);
}

int mw_cli_plugin_child(const char *cmd, const char *plugin, const char *after_crash)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        char msg[160];
        snprintf(msg, sizeof msg, "cannot start the process for --layer-plugin: %s",
                 strerror(errno));
        mw_cli_error(cmd, msg);
        return MW_EXIT_RUNTIME;
    }
    if (pid == 0) {
        static const int fatal[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
        for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
            signal(fatal[i], SIG_DFL); /* a fault in the plugin ends the child plainly */
        mw_err err;
        if (mw_plugin_activate(plugin, &err) != MW_OK) {
            mw_cli_error(cmd, err.msg);
            _exit(mw_exit_of(err.status));
        }
        return -1;
    }
    child = pid;
    struct sigaction ign = {.sa_handler = SIG_IGN}, fwd = {.sa_handler = pass_on}, old_int, old_term;
    sigaction(SIGINT, &ign, &old_int);
    sigaction(SIGTERM, &fwd, &old_term);
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
    }
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    child = 0;
    if (WIFEXITED(ws))
        return WEXITSTATUS(ws);
    const int sig = WTERMSIG(ws);
    if (sig == SIGINT || sig == SIGTERM)
        return 128 + sig;
    char msg[320];
    snprintf(msg, sizeof msg, "the plugin's layer ended the run: %s (%s)%s", mw_signal_name(sig),
             strsignal(sig), after_crash);
    mw_cli_error(cmd, msg);
    return MW_EXIT_RUNTIME;
}
