#ifndef CODERUNNER_CLIBEDIT_SHIM_H
#define CODERUNNER_CLIBEDIT_SHIM_H
// libedit's el_set/history are C-variadic, which Swift cannot call; these wrappers fix the argument lists we use.
// Glibc's stdin/stdout are mutable globals that Swift 6 rejects; they are exposed through functions too.
#include <stdio.h>
#include <histedit.h>

static inline FILE *cr_stdin(void) { return stdin; }
static inline FILE *cr_stdout(void) { return stdout; }
static inline FILE *cr_stderr(void) { return stderr; }

typedef char *(*cr_prompt_fn)(EditLine *);
typedef unsigned char (*cr_complete_fn)(EditLine *, int);

static inline int cr_el_set_prompt(EditLine *el, cr_prompt_fn fn) { return el_set(el, EL_PROMPT, fn); }
static inline int cr_el_set_editor(EditLine *el, const char *mode) { return el_set(el, EL_EDITOR, mode); }
static inline int cr_el_set_history(EditLine *el, History *h) { return el_set(el, EL_HIST, history, h); }
static inline int cr_el_set_signal(EditLine *el, int on) { return el_set(el, EL_SIGNAL, on); }
static inline int cr_el_add_function(EditLine *el, const char *name, const char *help, cr_complete_fn fn) {
    return el_set(el, EL_ADDFN, name, help, fn);
}
static inline int cr_el_bind(EditLine *el, const char *key, const char *fn) { return el_set(el, EL_BIND, key, fn, NULL); }
static inline int cr_el_set_clientdata(EditLine *el, void *data) { return el_set(el, EL_CLIENTDATA, data); }
static inline void *cr_el_get_clientdata(EditLine *el) { void *data = NULL; el_get(el, EL_CLIENTDATA, &data); return data; }

static inline int cr_history_set_size(History *h, int size) { HistEvent ev; return history(h, &ev, H_SETSIZE, size); }
static inline int cr_history_set_unique(History *h, int on) { HistEvent ev; return history(h, &ev, H_SETUNIQUE, on); }
static inline int cr_history_enter(History *h, const char *line) { HistEvent ev; return history(h, &ev, H_ENTER, line); }
static inline int cr_history_load(History *h, const char *path) { HistEvent ev; return history(h, &ev, H_LOAD, path); }
static inline int cr_history_save(History *h, const char *path) { HistEvent ev; return history(h, &ev, H_SAVE, path); }
static inline int cr_history_clear(History *h) { HistEvent ev; return history(h, &ev, H_CLEAR); }

#endif
