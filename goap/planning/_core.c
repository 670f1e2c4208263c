/* goap.planning._core: the search loop, the successor generator, h_max, LM-cut and
 * the lookahead in C.
 *
 * The same algorithms as goap/planning/search.py (best_first), task.py (Successors) and
 * relaxed.py (h_max, h_lmcut), step for step: the same heap orders ((key, h, insertion)
 * for nodes, (cost, atom) for atoms), the same list operations on LM-cut's pcf lists, the
 * same floating-point operations in the same order. So a search here returns the plan the
 * pure-Python one returns, with the same expanded and generated counts; tests compare them.
 *
 * goap/planning/compiled.py encodes a task for it: every variable's values are numbered
 * (at most 255 of them, one byte per variable in a state), every atom is a table of which
 * values satisfy it, adds are tables from value to value. Everything here is integers and
 * doubles, the lookahead (relaxed.py's, on the encoded task) included: the search never
 * calls back into Python.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------ small helpers */

typedef struct {
    int *data;
    int len, cap;
} IntVec;

static int vec_push(IntVec *v, int x) {
    if (v->len == v->cap) {
        int cap = v->cap ? 2 * v->cap : 4;
        int *data = realloc(v->data, (size_t)cap * sizeof(int));
        if (!data) return -1;
        v->data = data;
        v->cap = cap;
    }
    v->data[v->len++] = x;
    return 0;
}

static void vec_remove(IntVec *v, int x) { /* list.remove: the first occurrence */
    for (int i = 0; i < v->len; i++) {
        if (v->data[i] == x) {
            memmove(v->data + i, v->data + i + 1, (size_t)(v->len - i - 1) * sizeof(int));
            v->len--;
            return;
        }
    }
}

/* A min-heap of atoms by cost, ties from the highest atom down: relaxed.py's heaps of
 * (cost, -atom). h_max's value does not depend on the order; LM-cut's does. */
typedef struct {
    double c;
    int k;
} AtomEntry;

typedef struct {
    AtomEntry *data;
    int len, cap;
} AtomHeap;

static inline int atom_less(AtomEntry a, AtomEntry b) {
    return a.c < b.c || (a.c == b.c && a.k > b.k);
}

static int aheap_push(AtomHeap *h, double c, int k) {
    if (h->len == h->cap) {
        int cap = h->cap ? 2 * h->cap : 64;
        AtomEntry *data = realloc(h->data, (size_t)cap * sizeof(AtomEntry));
        if (!data) return -1;
        h->data = data;
        h->cap = cap;
    }
    AtomEntry e = {c, k};
    int i = h->len++;
    while (i > 0) {
        int parent = (i - 1) >> 1;
        if (!atom_less(e, h->data[parent])) break;
        h->data[i] = h->data[parent];
        i = parent;
    }
    h->data[i] = e;
    return 0;
}

static AtomEntry aheap_pop(AtomHeap *h) {
    AtomEntry top = h->data[0];
    AtomEntry last = h->data[--h->len];
    int n = h->len, i = 0;
    while (1) {
        int child = 2 * i + 1;
        if (child >= n) break;
        if (child + 1 < n && atom_less(h->data[child + 1], h->data[child])) child++;
        if (!atom_less(h->data[child], last)) break;
        h->data[i] = h->data[child];
        i = child;
    }
    if (n > 0) h->data[i] = last;
    return top;
}

/* Compressed rows: row r is data[off[r]:off[r + 1]]. */
typedef struct {
    int *off;
    int *data;
    int rows;
} Rows;

static int read_ints(PyObject *seq, int **out, Py_ssize_t *count) {
    PyObject *fast = PySequence_Fast(seq, "expected a sequence of ints");
    if (!fast) return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(fast);
    int *data = malloc((size_t)(n ? n : 1) * sizeof(int));
    if (!data) {
        Py_DECREF(fast);
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        long x = PyLong_AsLong(PySequence_Fast_GET_ITEM(fast, i));
        if (x == -1 && PyErr_Occurred()) {
            free(data);
            Py_DECREF(fast);
            return -1;
        }
        data[i] = (int)x;
    }
    Py_DECREF(fast);
    *out = data;
    if (count) *count = n;
    return 0;
}

static void free_rows(Rows *rows) {
    free(rows->off);
    free(rows->data);
    rows->off = rows->data = NULL;
}

#define ROW(r, i) ((r).data + (r).off[i])
#define ROWLEN(r, i) ((r).off[(i) + 1] - (r).off[i])

/* ------------------------------------------------------------ the task */

typedef struct { /* a relaxed plan's action and its level (the cost of its preconditions) */
    double level;
    int k;
} Ranked;

typedef struct {
    PyObject_HEAD
    int nvars, natoms, nactions, ngoal;
    PyObject *values; /* per variable, the tuple of its values */
    int *atom_var, *holds_off;
    unsigned char *holds; /* atom k holds at value d of its variable: holds[holds_off[k] + d] */
    int *goal;            /* the distinct goal atoms, sorted */
    unsigned char *is_goal;
    double *cost;
    Rows pre, achieves, users, achievers, no_pre;  /* the relaxation (relaxed.py) */
    Rows cpre, ceff, cusers, cachievers;           /* LM-cut's graph (_cut_graph) */
    Rows sets_var, sets_val, adds_var, adds_table; /* effects, per action */
    unsigned char *tables;                         /* adds: value -> value */
    /* the successor generator (task.Successors): entries are (action, rest atoms) */
    Rows entries_rest;
    int *entries_action;
    int nfree;                      /* entries[0:nfree] are tested in every state */
    int ntables, *table_var;        /* then per table (by variable), per value, a range */
    int *table_row;                 /* table t's rows start at table_row[t] */
    Rows buckets;                   /* buckets row table_row[t] + d: entry indices */
    /* scratch for the heuristics */
    double *hcost, *opcost;
    int *unsat, *pcf, *list, *stack, *snapshot, *frame_atom, *frame_at;
    unsigned char *flag, *zone, *seen;
    IntVec *chosen;
    AtomHeap heap;
    /* scratch for the lookahead */
    int *supporter, *pending;
    Ranked *ranked;
    unsigned char *picked, *trial; /* the relaxed plan's actions picked; the state it is tried on */
    IntVec todo, steps;
} CoreTask;

static void task_dealloc(CoreTask *t) {
    Py_XDECREF(t->values);
    free(t->atom_var);
    free(t->holds_off);
    free(t->holds);
    free(t->goal);
    free(t->is_goal);
    free(t->cost);
    Rows *all[] = {&t->pre, &t->achieves, &t->users, &t->achievers, &t->no_pre, &t->cpre, &t->ceff,
                   &t->cusers, &t->cachievers, &t->sets_var, &t->sets_val, &t->adds_var,
                   &t->adds_table, &t->entries_rest, &t->buckets};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) free_rows(all[i]);
    free(t->tables);
    free(t->entries_action);
    free(t->table_var);
    free(t->table_row);
    free(t->hcost);
    free(t->opcost);
    free(t->unsat);
    free(t->pcf);
    free(t->list);
    free(t->stack);
    free(t->snapshot);
    free(t->frame_atom);
    free(t->frame_at);
    free(t->flag);
    free(t->zone);
    free(t->seen);
    if (t->chosen) {
        for (int i = 0; i < t->natoms + 2; i++) free(t->chosen[i].data);
        free(t->chosen);
    }
    free(t->heap.data);
    free(t->supporter);
    free(t->pending);
    free(t->ranked);
    free(t->picked);
    free(t->trial);
    free(t->todo.data);
    free(t->steps.data);
    Py_TYPE(t)->tp_free((PyObject *)t);
}

/* ------------------------------------------------------------ building the task */

static IntVec *vecs_new(int n) { return calloc((size_t)(n ? n : 1), sizeof(IntVec)); }

static void vecs_free(IntVec **v, int n) {
    if (*v)
        for (int i = 0; i < n; i++) free((*v)[i].data);
    free(*v);
    *v = NULL;
}

/* Rows from per-row vectors, which it frees (and sets NULL) either way. */
static int rows_take(Rows *rows, IntVec **vecs, int n) {
    IntVec *v = *vecs;
    int total = 0;
    for (int i = 0; i < n; i++) total += v[i].len;
    rows->rows = n;
    rows->off = malloc((size_t)(n + 1) * sizeof(int));
    rows->data = malloc((size_t)(total ? total : 1) * sizeof(int));
    int ok = rows->off && rows->data;
    for (int i = 0, at = 0; ok && i <= n; i++) {
        rows->off[i] = at;
        if (i == n) break;
        if (v[i].len) memcpy(rows->data + at, v[i].data, (size_t)v[i].len * sizeof(int));
        at += v[i].len;
    }
    vecs_free(vecs, n);
    return ok ? 0 : -1;
}

static int int_less(const void *x, const void *y) {
    int a = *(const int *)x, b = *(const int *)y;
    return (a > b) - (a < b);
}

/* Python's sorted(set(...)) in place. */
static void sort_unique(IntVec *v) {
    if (v->len < 2) return;
    qsort(v->data, (size_t)v->len, sizeof(int), int_less);
    int n = 1;
    for (int i = 1; i < v->len; i++)
        if (v->data[i] != v->data[n - 1]) v->data[n++] = v->data[i];
    v->len = n;
}

#define PUSH(vec, x)                              \
    do {                                          \
        if (vec_push((vec), (x)) < 0) goto fail; \
    } while (0)

/* What relaxed.py's Relaxation.__init__ and _cut_graph and task.Successors compute, from the
 * atoms and actions compiled.encode numbers the same way, so the same lists in the same
 * order. listed: each action's precondition atoms as written; eq_var/eq_val: an atom's
 * equality (var, value number; value -2: no state has it; var -1: not an equality);
 * raise/lower: whether an increase/a decrease can make the atom true; adds_sign: per add. */
static int derive(CoreTask *t, const Rows *listed, const int *eq_var, const int *eq_val,
                  const int *raise, const int *lower, const int *adds_sign,
                  const int *goal_atoms, int ngoal_atoms) {
    int n = t->natoms, nact = t->nactions, nv = t->nvars, rc = -1;
    IntVec *pre = vecs_new(nact), *ach = vecs_new(nact), *users = vecs_new(n);
    IntVec *achievers = vecs_new(n), *by_var = vecs_new(nv), *nopre = vecs_new(1);
    IntVec *cpre = vecs_new(nact + 1), *ceff = vecs_new(nact + 1);
    IntVec *cusers = vecs_new(n + 2), *cach = vecs_new(n + 2), *rest = vecs_new(nact);
    IntVec *bucket = NULL, goal = {0}, entries = {0};
    int *first = malloc((size_t)(nact + 1) * sizeof(int));
    int *row_of_var = malloc((size_t)(nv + 1) * sizeof(int));
    int nrows = 0;
    if (!pre || !ach || !users || !achievers || !by_var || !nopre || !cpre || !ceff ||
        !cusers || !cach || !rest || !first || !row_of_var)
        goto fail;
    for (int k = 0; k < n; k++) PUSH(&by_var[t->atom_var[k]], k);
    for (int a = 0; a < nact; a++) {
        for (int i = 0; i < ROWLEN(*listed, a); i++) PUSH(&pre[a], ROW(*listed, a)[i]);
        sort_unique(&pre[a]);
        if (!pre[a].len) PUSH(&nopre[0], a);
        for (int i = 0; i < pre[a].len; i++) PUSH(&users[pre[a].data[i]], a);
        const int *vars = ROW(t->sets_var, a), *vals = ROW(t->sets_val, a);
        for (int i = 0; i < ROWLEN(t->sets_var, a); i++) {
            const IntVec *on = &by_var[vars[i]];
            for (int j = 0; j < on->len; j++)
                if (t->holds[t->holds_off[on->data[j]] + vals[i]]) PUSH(&ach[a], on->data[j]);
        }
        vars = ROW(t->adds_var, a);
        const int *signs = adds_sign + t->adds_var.off[a];
        for (int i = 0; i < ROWLEN(t->adds_var, a); i++) {
            const IntVec *on = &by_var[vars[i]];
            for (int j = 0; j < on->len; j++) {
                int k = on->data[j];
                if ((signs[i] > 0 && raise[k]) || (signs[i] < 0 && lower[k])) PUSH(&ach[a], k);
            }
        }
        sort_unique(&ach[a]);
        for (int i = 0; i < ach[a].len; i++) PUSH(&achievers[ach[a].data[i]], a);
    }
    for (int i = 0; i < ngoal_atoms; i++) PUSH(&goal, goal_atoms[i]);
    sort_unique(&goal);
    /* LM-cut's graph: preconditions from the highest atom down, INIT (n + 1) for none; one
     * more action, of cost 0, needs the goal and achieves GOAL (n). */
    for (int a = 0; a <= nact; a++) {
        const IntVec *p = a < nact ? &pre[a] : &goal;
        for (int i = p->len - 1; i >= 0; i--) PUSH(&cpre[a], p->data[i]);
        if (!p->len) PUSH(&cpre[a], n + 1);
        if (a < nact) {
            for (int i = 0; i < ach[a].len; i++) PUSH(&ceff[a], ach[a].data[i]);
        } else {
            PUSH(&ceff[a], n);
        }
        for (int i = 0; i < cpre[a].len; i++) PUSH(&cusers[cpre[a].data[i]], a);
        for (int i = 0; i < ceff[a].len; i++) PUSH(&cach[ceff[a].data[i]], a);
    }
    /* task.Successors: an action is filed under its first equality, its other
     * preconditions tested; one with no equality is tested in every state; one whose
     * equality names a value no state has never applies. Entries: the free ones, then per
     * table (by variable), per value, the actions filed there, each in action order. */
    for (int v = 0; v < nv; v++) row_of_var[v] = -1;
    for (int a = 0; a < nact; a++) {
        const int *ls = ROW(*listed, a);
        int len = ROWLEN(*listed, a), key = -1;
        for (int i = 0; i < len && key < 0; i++)
            if (eq_var[ls[i]] >= 0) key = i;
        first[a] = key;
        for (int i = 0; i < len; i++)
            if (i != key) PUSH(&rest[a], ls[i]);
        if (key >= 0 && eq_val[ls[key]] >= 0) row_of_var[eq_var[ls[key]]] = 0;
    }
    t->ntables = 0;
    for (int v = 0; v < nv; v++) t->ntables += row_of_var[v] == 0;
    t->table_var = malloc((size_t)(t->ntables + 1) * sizeof(int));
    t->table_row = malloc((size_t)(t->ntables + 1) * sizeof(int));
    if (!t->table_var || !t->table_row) goto fail;
    for (int v = 0, k = 0; v < nv; v++) {
        if (row_of_var[v] != 0) continue;
        t->table_var[k] = v;
        t->table_row[k++] = nrows;
        row_of_var[v] = nrows;
        nrows += (int)PyTuple_GET_SIZE(PyTuple_GET_ITEM(t->values, v));
    }
    if (!(bucket = vecs_new(nrows))) goto fail;
    for (int a = 0; a < nact; a++) {
        if (first[a] < 0) {
            PUSH(&entries, a);
            continue;
        }
        int atom = ROW(*listed, a)[first[a]];
        if (eq_val[atom] >= 0) PUSH(&bucket[row_of_var[eq_var[atom]] + eq_val[atom]], a);
    }
    t->nfree = entries.len;
    for (int r = 0; r < nrows; r++) {
        for (int j = 0; j < bucket[r].len; j++) {
            int a = bucket[r].data[j];
            bucket[r].data[j] = entries.len; /* the entry's number */
            PUSH(&entries, a);
        }
    }
    {
        IntVec *entry_rest = vecs_new(entries.len);
        if (!entry_rest) goto fail;
        for (int e = 0; e < entries.len; e++) { /* each action is one entry at most */
            entry_rest[e] = rest[entries.data[e]];
            rest[entries.data[e]] = (IntVec){0};
        }
        if (rows_take(&t->entries_rest, &entry_rest, entries.len) < 0) goto fail;
    }
    t->entries_action = entries.data;
    entries.data = NULL;
    t->ngoal = goal.len;
    t->goal = goal.data;
    goal.data = NULL;
    if (rows_take(&t->pre, &pre, nact) < 0 || rows_take(&t->achieves, &ach, nact) < 0 ||
        rows_take(&t->users, &users, n) < 0 || rows_take(&t->achievers, &achievers, n) < 0 ||
        rows_take(&t->no_pre, &nopre, 1) < 0 || rows_take(&t->cpre, &cpre, nact + 1) < 0 ||
        rows_take(&t->ceff, &ceff, nact + 1) < 0 || rows_take(&t->cusers, &cusers, n + 2) < 0 ||
        rows_take(&t->cachievers, &cach, n + 2) < 0 || rows_take(&t->buckets, &bucket, nrows) < 0)
        goto fail;
    rc = 0;
fail:
    vecs_free(&pre, nact);
    vecs_free(&ach, nact);
    vecs_free(&users, n);
    vecs_free(&achievers, n);
    vecs_free(&by_var, nv);
    vecs_free(&nopre, 1);
    vecs_free(&cpre, nact + 1);
    vecs_free(&ceff, nact + 1);
    vecs_free(&cusers, n + 2);
    vecs_free(&cach, n + 2);
    vecs_free(&rest, nact);
    vecs_free(&bucket, nrows);
    free(goal.data);
    free(entries.data);
    free(first);
    free(row_of_var);
    if (rc < 0 && !PyErr_Occurred()) PyErr_NoMemory();
    return rc;
}
#undef PUSH

static PyObject *item(PyObject *spec, const char *key) {
    PyObject *v = PyDict_GetItemString(spec, key); /* borrowed */
    if (!v) PyErr_Format(PyExc_KeyError, "task spec lacks %s", key);
    return v;
}

#define NEED(expr) \
    do {           \
        if ((expr) < 0) goto fail; \
    } while (0)

/* Rows built one after the other (row i is complete before row i + 1 starts). */
typedef struct {
    IntVec data, off;
} Build;

static int build_start(Build *b) {
    if (vec_push(&b->off, 0) < 0 || vec_push(&b->data, 0) < 0) return -1;
    b->data.len = 0; /* allocated, so an empty table still has storage */
    return 0;
}
static int build_end(Build *b) { return vec_push(&b->off, b->data.len); }
static void build_take(Build *b, Rows *rows) {
    rows->off = b->off.data;
    rows->data = b->data.data;
    rows->rows = b->off.len - 1;
    b->off = b->data = (IntVec){0};
}
static void build_free(Build *b) {
    free(b->data.data);
    free(b->off.data);
}

/* The number of test (an atom), numbering it next when new (recorded in ids and tests). */
static int atom_id(PyObject *ids, PyObject *tests, PyObject *test) {
    PyObject *k = PyDict_GetItemWithError(ids, test); /* borrowed */
    if (k) return (int)PyLong_AsLong(k);
    if (PyErr_Occurred()) return -1;
    Py_ssize_t n = PyList_GET_SIZE(tests);
    PyObject *number = PyLong_FromSsize_t(n);
    int bad = !number || PyDict_SetItem(ids, test, number) < 0 || PyList_Append(tests, test) < 0;
    Py_XDECREF(number);
    return bad ? -1 : (int)n;
}

/* The number of value among variable var's values (index[var][value]), -2 if none. */
static int value_number(PyObject *index, int var, PyObject *value) {
    PyObject *d = PyDict_GetItemWithError(PyList_GET_ITEM(index, var), value);
    if (d) return (int)PyLong_AsLong(d);
    return PyErr_Occurred() ? -1 : -2;
}

enum { RAISES = 1, LOWERS = 2, EQ = 4, NE = 8 }; /* compiled.KINDS: per operator */

/* compiled.encode's spec: the goal's tests and the actions (task.TaskAction tuples) read
 * here, atoms numbered as relaxed.Relaxation numbers them (the goal's first, then each
 * action's preconditions in order), into ids (test -> number); then derive. */
static int read_task(CoreTask *t, PyObject *spec) {
    PyObject *goal, *actions, *index, *ids, *kinds, *adds;
    if (!(goal = item(spec, "goal")) || !(actions = item(spec, "actions")) ||
        !(index = item(spec, "index")) || !(ids = item(spec, "ids")) ||
        !(kinds = item(spec, "kinds")) || !(adds = item(spec, "adds")))
        return -1;
    if (!PyTuple_Check(goal) || !PyTuple_Check(actions) || !PyList_Check(index) ||
        !PyDict_Check(ids) || !PyDict_Check(kinds) || !PyList_Check(adds) ||
        PyList_GET_SIZE(index) != t->nvars) {
        PyErr_SetString(PyExc_TypeError, "a task spec of the wrong shape");
        return -1;
    }
    int rc = -1, nact = (int)PyTuple_GET_SIZE(actions), ngoal = (int)PyTuple_GET_SIZE(goal);
    int nadds = (int)PyList_GET_SIZE(adds), next_add = 0;
    PyObject *tests = PyList_New(0);
    Build listed = {0}, sets_var = {0}, sets_val = {0}, adds_var = {0}, adds_table = {0};
    Build holds = {0};
    IntVec eq_var = {0}, eq_val = {0}, raise = {0}, lower = {0}, signs = {0}, goal_atoms = {0};
    if (vec_push(&signs, 0) < 0) goto done;
    signs.len = 0;
    if (!tests || build_start(&listed) < 0 || build_start(&sets_var) < 0 ||
        build_start(&sets_val) < 0 || build_start(&adds_var) < 0 ||
        build_start(&adds_table) < 0 || build_start(&holds) < 0)
        goto done;
    for (int g = 0; g < ngoal; g++) {
        int k = atom_id(ids, tests, PyTuple_GET_ITEM(goal, g));
        if (k < 0 || vec_push(&goal_atoms, k) < 0) goto done;
    }
    t->nactions = nact;
    t->cost = malloc((size_t)(nact + 1) * sizeof(double));
    if (!t->cost) goto done;
    for (int a = 0; a < nact; a++) {
        PyObject *action = PyTuple_GET_ITEM(actions, a); /* (index, name, cost, pre, sets, adds) */
        if (!PyTuple_Check(action) || PyTuple_GET_SIZE(action) < 6) {
            PyErr_SetString(PyExc_TypeError, "an action is not a TaskAction");
            goto done;
        }
        t->cost[a] = PyFloat_AsDouble(PyTuple_GET_ITEM(action, 2));
        if (t->cost[a] == -1.0 && PyErr_Occurred()) goto done;
        PyObject *pre = PyTuple_GET_ITEM(action, 3), *sets = PyTuple_GET_ITEM(action, 4);
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(pre); i++) {
            int k = atom_id(ids, tests, PyTuple_GET_ITEM(pre, i));
            if (k < 0 || vec_push(&listed.data, k) < 0) goto done;
        }
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(sets); i++) {
            PyObject *set = PyTuple_GET_ITEM(sets, i); /* (var, value) */
            int var = (int)PyLong_AsLong(PyTuple_GET_ITEM(set, 0));
            if (var < 0 || var >= t->nvars) {
                if (!PyErr_Occurred()) PyErr_SetString(PyExc_IndexError, "a set's variable");
                goto done;
            }
            int d = value_number(index, var, PyTuple_GET_ITEM(set, 1));
            if (d == -2) PyErr_SetString(PyExc_KeyError, "a set's value is not in its domain");
            if (d < 0 || vec_push(&sets_var.data, var) < 0 || vec_push(&sets_val.data, d) < 0)
                goto done;
        }
        if (next_add < nadds) { /* (position, variables, tables, signs) */
            PyObject *entry = PyList_GET_ITEM(adds, next_add);
            if (PyLong_AsLong(PyTuple_GET_ITEM(entry, 0)) == a) {
                next_add++;
                int *ints;
                Py_ssize_t m;
                for (int part = 1; part <= 3; part++) {
                    if (read_ints(PyTuple_GET_ITEM(entry, part), &ints, &m) < 0) goto done;
                    IntVec *into = part == 1 ? &adds_var.data : part == 2 ? &adds_table.data : &signs;
                    for (Py_ssize_t i = 0; i < m; i++)
                        if (vec_push(into, ints[i]) < 0) {
                            free(ints);
                            goto done;
                        }
                    free(ints);
                }
            }
        }
        if (build_end(&listed) < 0 || build_end(&sets_var) < 0 || build_end(&sets_val) < 0 ||
            build_end(&adds_var) < 0 || build_end(&adds_table) < 0)
            goto done;
    }
    /* the atoms: variable, which values satisfy them, what moves can make them true */
    t->natoms = (int)PyList_GET_SIZE(tests);
    t->atom_var = malloc((size_t)(t->natoms + 1) * sizeof(int));
    if (!t->atom_var) goto done;
    for (int k = 0; k < t->natoms; k++) {
        PyObject *test = PyList_GET_ITEM(tests, k); /* (var, operator, value) */
        int var = (int)PyLong_AsLong(PyTuple_GET_ITEM(test, 0));
        PyObject *op = PyTuple_GET_ITEM(test, 1), *value = PyTuple_GET_ITEM(test, 2);
        if (var < 0 || var >= t->nvars) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_IndexError, "a test's variable");
            goto done;
        }
        t->atom_var[k] = var;
        PyObject *domain = PyTuple_GET_ITEM(t->values, var);
        for (Py_ssize_t d = 0; d < PyTuple_GET_SIZE(domain); d++) {
            PyObject *r = PyObject_CallFunctionObjArgs(op, PyTuple_GET_ITEM(domain, d), value, NULL);
            int truth = r ? PyObject_IsTrue(r) : -1;
            Py_XDECREF(r);
            if (truth < 0 || vec_push(&holds.data, truth) < 0) goto done;
        }
        if (build_end(&holds) < 0) goto done;
        PyObject *kind = PyDict_GetItemWithError(kinds, op);
        if (!kind) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_KeyError, "an unknown operator");
            goto done;
        }
        long bits = PyLong_AsLong(kind);
        int e_var = -1, e_val = -1;
        if (bits & EQ) {
            e_var = var;
            e_val = value_number(index, var, value);
        } else if ((bits & NE) && PyBool_Check(value)) {
            e_var = var;
            e_val = value_number(index, var, value == Py_True ? Py_False : Py_True);
        }
        if (e_val == -1 && PyErr_Occurred()) goto done;
        if (vec_push(&eq_var, e_var) < 0 || vec_push(&eq_val, e_val) < 0 ||
            vec_push(&raise, (bits & RAISES) != 0) < 0 || vec_push(&lower, (bits & LOWERS) != 0) < 0)
            goto done;
    }
    {
        Rows rows;
        build_take(&holds, &rows);
        t->holds_off = rows.off;
        t->holds = malloc((size_t)rows.off[rows.rows] + 1);
        if (!t->holds) {
            free(rows.data);
            goto done;
        }
        for (int i = 0; i < rows.off[rows.rows]; i++) t->holds[i] = (unsigned char)rows.data[i];
        free(rows.data);
    }
    build_take(&sets_var, &t->sets_var);
    build_take(&sets_val, &t->sets_val);
    build_take(&adds_var, &t->adds_var);
    build_take(&adds_table, &t->adds_table);
    Rows rows;
    build_take(&listed, &rows);
    rc = derive(t, &rows, eq_var.data, eq_val.data, raise.data, lower.data, signs.data,
                goal_atoms.data, goal_atoms.len);
    free_rows(&rows);
done:
    Py_XDECREF(tests);
    build_free(&listed);
    build_free(&sets_var);
    build_free(&sets_val);
    build_free(&adds_var);
    build_free(&adds_table);
    build_free(&holds);
    free(eq_var.data);
    free(eq_val.data);
    free(raise.data);
    free(lower.data);
    free(signs.data);
    free(goal_atoms.data);
    if (rc < 0 && !PyErr_Occurred()) PyErr_NoMemory();
    return rc;
}

static PyObject *task_new(PyTypeObject *type, PyObject *args, PyObject *kwds) {
    PyObject *spec;
    if (!PyArg_ParseTuple(args, "O!", &PyDict_Type, &spec)) return NULL;
    CoreTask *t = (CoreTask *)type->tp_alloc(type, 0);
    if (!t) return NULL;
    PyObject *v;
    Py_ssize_t n;
    if (!(v = item(spec, "values"))) goto fail;
    Py_INCREF(v);
    t->values = v;
    t->nvars = (int)PyTuple_Size(v);
    if (t->nvars < 0) goto fail;
    if (!(v = item(spec, "tables"))) goto fail;
    {
        int *tab;
        NEED(read_ints(v, &tab, &n));
        t->tables = malloc((size_t)(n + 1));
        if (!t->tables) {
            free(tab);
            PyErr_NoMemory();
            goto fail;
        }
        for (Py_ssize_t i = 0; i < n; i++) t->tables[i] = (unsigned char)tab[i];
        free(tab);
    }
    NEED(read_task(t, spec));
    int na = t->natoms + 2, nact = t->nactions + 1;
    t->is_goal = calloc((size_t)na, 1);
    t->hcost = malloc((size_t)na * sizeof(double));
    t->opcost = malloc((size_t)nact * sizeof(double));
    t->unsat = malloc((size_t)nact * sizeof(int));
    t->pcf = malloc((size_t)nact * sizeof(int));
    t->list = malloc((size_t)(na + nact) * sizeof(int));
    t->stack = malloc((size_t)(na + 1) * sizeof(int));
    t->snapshot = malloc((size_t)nact * sizeof(int));
    t->frame_atom = malloc((size_t)(na + 1) * sizeof(int));
    t->frame_at = malloc((size_t)(na + 1) * sizeof(int));
    t->flag = malloc((size_t)na);
    t->zone = malloc((size_t)na);
    t->seen = malloc((size_t)na);
    t->chosen = calloc((size_t)na, sizeof(IntVec));
    t->supporter = malloc((size_t)na * sizeof(int));
    t->pending = malloc((size_t)nact * sizeof(int));
    t->ranked = malloc((size_t)nact * sizeof(Ranked));
    t->picked = malloc((size_t)nact);
    t->trial = malloc((size_t)t->nvars + 1);
    if (!t->supporter || !t->pending || !t->ranked || !t->picked || !t->trial ||
        !t->is_goal || !t->hcost || !t->opcost || !t->unsat || !t->pcf || !t->list ||
        !t->stack || !t->snapshot || !t->frame_atom || !t->frame_at || !t->flag || !t->zone || !t->seen ||
        !t->chosen) {
        PyErr_NoMemory();
        goto fail;
    }
    for (int i = 0; i < t->ngoal; i++) t->is_goal[t->goal[i]] = 1;
    return (PyObject *)t;
fail:
    Py_DECREF(t);
    return NULL;
}

static inline int holds(const CoreTask *t, int k, const unsigned char *s) {
    return t->holds[t->holds_off[k] + s[t->atom_var[k]]];
}

/* ------------------------------------------------------------ heuristics */

static int propagate(CoreTask *t, const unsigned char *s, int sum, int complete);

/* relaxed.py h_max: propagate(state, "max", complete=False), then the costliest goal. */
static double h_max(CoreTask *t, const unsigned char *s) {
    if (propagate(t, s, 0, 0) < 0) return -1.0;
    double best = 0.0;
    for (int i = 0; i < t->ngoal; i++)
        if (t->hcost[t->goal[i]] > best) best = t->hcost[t->goal[i]];
    return best;
}

/* relaxed.py _goal_zone: depth first from GOAL along zero-cost achievers and their pcf. */
static int goal_zone(CoreTask *t) {
    int goal = t->natoms, na = t->natoms + 2;
    double *cost = t->hcost, *opcost = t->opcost;
    int *pcf = t->pcf;
    unsigned char *zone = t->zone;
    memset(zone, 0, (size_t)na);
    zone[goal] = 1;
    int depth = 0;
    t->frame_atom[0] = goal;
    t->frame_at[0] = 0;
    depth = 1;
    while (depth) {
        int atom = t->frame_atom[depth - 1];
        const int *todo = ROW(t->cachievers, atom);
        int len = ROWLEN(t->cachievers, atom);
        int k = t->frame_at[depth - 1];
        while (k < len && (opcost[todo[k]] != 0 || pcf[todo[k]] < 0)) k++;
        if (k == len) {
            depth--;
            continue;
        }
        t->frame_at[depth - 1] = k + 1;
        int a = todo[k];
        double top = cost[pcf[a]];
        const int *qs = ROW(t->cpre, a);
        for (int i = 0; i < ROWLEN(t->cpre, a); i++) {
            int q = qs[i];
            if (cost[q] != top) continue;
            int border = 1;
            if (!zone[q]) {
                const int *bs = ROW(t->cachievers, q);
                for (int j = 0; j < ROWLEN(t->cachievers, q); j++) {
                    if (opcost[bs[j]] == 0) {
                        border = 0;
                        break;
                    }
                }
            }
            if (zone[q] || border) {
                if (q != pcf[a]) {
                    vec_remove(&t->chosen[pcf[a]], a);
                    if (vec_push(&t->chosen[q], a) < 0) return -1;
                    pcf[a] = q;
                }
                break;
            }
        }
        int p = pcf[a];
        if (!zone[p]) {
            zone[p] = 1;
            t->frame_atom[depth] = p;
            t->frame_at[depth] = 0;
            depth++;
        }
    }
    return 0;
}

/* relaxed.py h_lmcut, step for step. Returns -1 on a memory error. */
static double h_lmcut(CoreTask *t, const unsigned char *s) {
    int n = t->natoms, goal = n, init = n + 1, na = n + 2, nact = t->nactions + 1;
    double *cost = t->hcost, *opcost = t->opcost;
    int *pcf = t->pcf, *unsat = t->unsat, *truth = t->list, ntrue = 0;
    unsigned char *done = t->flag;
    AtomHeap *heap = &t->heap;
    for (int a = 0; a < t->nactions; a++) opcost[a] = t->cost[a];
    opcost[t->nactions] = 0.0;
    for (int k = 0; k < na; k++) cost[k] = INFINITY;
    for (int a = 0; a < nact; a++) {
        pcf[a] = -1;
        unsat[a] = ROWLEN(t->cpre, a);
    }
    for (int k = 0; k < n; k++)
        if (holds(t, k, s)) truth[ntrue++] = k;
    truth[ntrue++] = init;
    heap->len = 0;
    for (int i = 0; i < ntrue; i++) {
        cost[truth[i]] = 0.0;
        if (aheap_push(heap, 0.0, truth[i]) < 0) return -1.0;
    }
    memset(done, 0, (size_t)na);
    while (heap->len) {
        AtomEntry top = aheap_pop(heap);
        if (done[top.k]) continue;
        done[top.k] = 1;
        const int *us = ROW(t->cusers, top.k);
        for (int j = 0; j < ROWLEN(t->cusers, top.k); j++) {
            int a = us[j];
            if (--unsat[a] != 0) continue;
            pcf[a] = top.k;
            double v = top.c + opcost[a];
            const int *es = ROW(t->ceff, a);
            for (int i = 0; i < ROWLEN(t->ceff, a); i++) {
                if (v < cost[es[i]]) {
                    cost[es[i]] = v;
                    if (aheap_push(heap, v, es[i]) < 0) return -1.0;
                }
            }
        }
    }
    if (cost[goal] == INFINITY) return INFINITY;
    for (int k = 0; k < na; k++) t->chosen[k].len = 0;
    for (int a = 0; a < nact; a++)
        if (pcf[a] >= 0 && vec_push(&t->chosen[pcf[a]], a) < 0) return -1.0;
    double total = 0.0;
    int *cut = t->list + na, *stack = t->stack;
    unsigned char *zone = t->zone, *seen = t->seen;
    while (cost[goal] > 0) {
        if (goal_zone(t) < 0) return -1.0;
        memset(seen, 0, (size_t)na);
        int top = 0, ncut = 0;
        for (int i = 0; i < ntrue; i++) {
            seen[truth[i]] = 1;
            stack[top++] = truth[i];
        }
        while (top) {
            IntVec *ch = &t->chosen[stack[--top]];
            for (int j = 0; j < ch->len; j++) {
                int a = ch->data[j];
                const int *es = ROW(t->ceff, a);
                int len = ROWLEN(t->ceff, a), crosses = 0;
                for (int i = 0; i < len; i++) {
                    if (zone[es[i]]) {
                        crosses = 1;
                        break;
                    }
                }
                if (crosses) {
                    cut[ncut++] = a;
                    continue;
                }
                for (int i = 0; i < len; i++) {
                    if (!seen[es[i]]) {
                        seen[es[i]] = 1;
                        stack[top++] = es[i];
                    }
                }
            }
        }
        if (!ncut) break; /* cannot happen: GOAL costs more than 0, so a cut exists */
        double step = INFINITY;
        for (int i = 0; i < ncut; i++)
            if (opcost[cut[i]] < step) step = opcost[cut[i]];
        total += step;
        heap->len = 0;
        for (int i = 0; i < ncut; i++) {
            int a = cut[i];
            opcost[a] -= step;
            double v = cost[pcf[a]] + opcost[a];
            const int *es = ROW(t->ceff, a);
            for (int j = 0; j < ROWLEN(t->ceff, a); j++) {
                if (v < cost[es[j]]) {
                    cost[es[j]] = v;
                    if (aheap_push(heap, v, es[j]) < 0) return -1.0;
                }
            }
        }
        while (heap->len) {
            AtomEntry popped = aheap_pop(heap);
            int atom = popped.k;
            double c = popped.c;
            if (c > cost[atom]) continue;
            IntVec *ch = &t->chosen[atom];
            /* list(chosen[atom]): a snapshot, since actions move to other lists */
            int len = ch->len;
            int *snapshot = t->snapshot;
            memcpy(snapshot, ch->data, (size_t)len * sizeof(int));
            for (int j = 0; j < len; j++) {
                int a = snapshot[j];
                int best = atom;
                double high = c;
                const int *qs = ROW(t->cpre, a);
                for (int i = 0; i < ROWLEN(t->cpre, a); i++) {
                    if (cost[qs[i]] > high) {
                        best = qs[i];
                        high = cost[qs[i]];
                    }
                }
                if (best != atom) {
                    vec_remove(ch, a);
                    if (vec_push(&t->chosen[best], a) < 0) return -1.0;
                    pcf[a] = best;
                }
                double v = high + opcost[a];
                const int *es = ROW(t->ceff, a);
                for (int i = 0; i < ROWLEN(t->ceff, a); i++) {
                    if (v < cost[es[i]]) {
                        cost[es[i]] = v;
                        if (aheap_push(heap, v, es[i]) < 0) return -1.0;
                    }
                }
            }
        }
    }
    return total;
}

enum { H_BLIND = 0, H_MAX = 1, H_LMCUT = 2 };

static double evaluate(CoreTask *t, int which, const unsigned char *s) {
    if (which == H_MAX) return h_max(t, s);
    if (which == H_LMCUT) return h_lmcut(t, s);
    return 0.0;
}

/* ------------------------------------------------------------ successors and effects */

static inline int all_hold(const CoreTask *t, const int *atoms, int len, const unsigned char *s) {
    for (int i = 0; i < len; i++)
        if (!holds(t, atoms[i], s)) return 0;
    return 1;
}

/* task.Successors.__call__: the free entries, then per table the bucket of the value. */
static int successors(const CoreTask *t, const unsigned char *s, int *out) {
    int count = 0;
    for (int e = 0; e < t->nfree; e++)
        if (all_hold(t, ROW(t->entries_rest, e), ROWLEN(t->entries_rest, e), s))
            out[count++] = t->entries_action[e];
    for (int k = 0; k < t->ntables; k++) {
        int row = t->table_row[k] + s[t->table_var[k]];
        const int *es = ROW(t->buckets, row);
        for (int j = 0; j < ROWLEN(t->buckets, row); j++) {
            int e = es[j];
            if (all_hold(t, ROW(t->entries_rest, e), ROWLEN(t->entries_rest, e), s))
                out[count++] = t->entries_action[e];
        }
    }
    return count;
}

static inline void apply(const CoreTask *t, int a, unsigned char *s) {
    const int *vars = ROW(t->sets_var, a), *vals = ROW(t->sets_val, a);
    for (int i = 0; i < ROWLEN(t->sets_var, a); i++) s[vars[i]] = (unsigned char)vals[i];
    vars = ROW(t->adds_var, a);
    const int *tabs = ROW(t->adds_table, a);
    for (int i = 0; i < ROWLEN(t->adds_var, a); i++) s[vars[i]] = t->tables[tabs[i] + s[vars[i]]];
}

static int is_goal(const CoreTask *t, const unsigned char *s) {
    for (int i = 0; i < t->ngoal; i++)
        if (!holds(t, t->goal[i], s)) return 0;
    return 1;
}

/* ------------------------------------------------------------ the lookahead */

/* relaxed.py propagate: each atom's cost (hcost) and cheapest achiever (supporter), an
 * action's preconditions combined by max (h_max) or by sum (h_add); unless complete, h_max
 * stops once every goal atom is settled. Atoms of equal cost leave the heap smallest first,
 * as Python's (cost, atom) tuples do (pushed as -atom - 1 into the heap that breaks ties
 * from the highest number down). */
static int propagate(CoreTask *t, const unsigned char *s, int sum, int complete) {
    double *cost = t->hcost;
    int *supporter = t->supporter, *unsat = t->unsat, *ready = t->list, nready = 0;
    int stop = !complete && !sum, goals_left = t->ngoal;
    for (int k = 0; k < t->natoms; k++) {
        cost[k] = INFINITY;
        supporter[k] = -1;
    }
    for (int a = 0; a < t->nactions; a++) unsat[a] = ROWLEN(t->pre, a);
    for (int i = 0; i < ROWLEN(t->no_pre, 0); i++) ready[nready++] = ROW(t->no_pre, 0)[i];
    for (int k = 0; k < t->natoms; k++) {
        if (!holds(t, k, s)) continue;
        cost[k] = 0.0;
        goals_left -= t->is_goal[k];
        const int *us = ROW(t->users, k);
        for (int j = 0; j < ROWLEN(t->users, k); j++)
            if (--unsat[us[j]] == 0) ready[nready++] = us[j];
    }
    if (stop && goals_left == 0) return 0;
    AtomHeap *heap = &t->heap;
    heap->len = 0;
    for (int i = 0; i < nready; i++) {
        int a = ready[i];
        double value = t->cost[a];
        const int *es = ROW(t->achieves, a);
        for (int j = 0; j < ROWLEN(t->achieves, a); j++) {
            if (value < cost[es[j]]) {
                cost[es[j]] = value;
                supporter[es[j]] = a;
                if (aheap_push(heap, value, -es[j] - 1) < 0) return -1;
            }
        }
    }
    while (heap->len) {
        AtomEntry top = aheap_pop(heap);
        int atom = -top.k - 1;
        if (top.c > cost[atom]) continue;
        if (stop && t->is_goal[atom] && --goals_left == 0) break;
        const int *us = ROW(t->users, atom);
        for (int j = 0; j < ROWLEN(t->users, atom); j++) {
            int a = us[j];
            if (--unsat[a] != 0) continue;
            double value = top.c;
            if (sum) {
                value = 0.0;
                const int *ps = ROW(t->pre, a);
                for (int i = 0; i < ROWLEN(t->pre, a); i++) value += cost[ps[i]];
            }
            value += t->cost[a];
            const int *es = ROW(t->achieves, a);
            for (int i = 0; i < ROWLEN(t->achieves, a); i++) {
                if (value < cost[es[i]]) {
                    cost[es[i]] = value;
                    supporter[es[i]] = a;
                    if (aheap_push(heap, value, -es[i] - 1) < 0) return -1;
                }
            }
        }
    }
    return 0;
}

static int by_level(const void *x, const void *y) {
    const Ranked *a = x, *b = y;
    if (a->level != b->level) return a->level < b->level ? -1 : 1;
    return (a->k > b->k) - (a->k < b->k);
}

/* relaxed.py relaxed_plan over h_add's supporters: into pending, in level order; returns
 * its length, or -1 when out of memory. */
static int relaxed_plan(CoreTask *t) {
    const double *cost = t->hcost;
    unsigned char *seen = t->seen;
    memset(t->picked, 0, (size_t)t->nactions);
    memset(seen, 0, (size_t)t->natoms);
    IntVec *todo = &t->todo;
    todo->len = 0;
    for (int i = 0; i < t->ngoal; i++)
        if (cost[t->goal[i]] > 0 && vec_push(todo, t->goal[i]) < 0) return -1;
    int n = 0;
    while (todo->len) {
        int atom = todo->data[--todo->len];
        if (seen[atom]) continue;
        seen[atom] = 1;
        int k = t->supporter[atom];
        if (t->picked[k]) continue;
        t->picked[k] = 1;
        const int *ps = ROW(t->pre, k);
        double level = 0.0;
        for (int i = 0; i < ROWLEN(t->pre, k); i++) {
            level += cost[ps[i]];
            if (cost[ps[i]] > 0 && vec_push(todo, ps[i]) < 0) return -1;
        }
        t->ranked[n].level = level;
        t->ranked[n++].k = k;
    }
    qsort(t->ranked, (size_t)n, sizeof(Ranked), by_level);
    for (int i = 0; i < n; i++) t->pending[i] = t->ranked[i].k;
    return n;
}

/* task.apply_in_place: apply action a to s; whether any value changed. */
static inline int apply_changed(const CoreTask *t, int a, unsigned char *s) {
    int changed = 0;
    const int *vars = ROW(t->sets_var, a), *vals = ROW(t->sets_val, a);
    for (int i = 0; i < ROWLEN(t->sets_var, a); i++) {
        if (s[vars[i]] != (unsigned char)vals[i]) {
            s[vars[i]] = (unsigned char)vals[i];
            changed = 1;
        }
    }
    vars = ROW(t->adds_var, a);
    const int *tabs = ROW(t->adds_table, a);
    for (int i = 0; i < ROWLEN(t->adds_var, a); i++) {
        unsigned char v = t->tables[tabs[i] + s[vars[i]]];
        if (v != s[vars[i]]) {
            s[vars[i]] = v;
            changed = 1;
        }
    }
    return changed;
}

/* relaxed.py Relaxation.lookahead: the relaxed plan tried in the real task, pass after
 * pass. Its steps go to t->steps and its cost to *out (INFINITY: no plan; steps empty).
 * Returns -1 when out of memory. */
static int lookahead(CoreTask *t, const unsigned char *s, double budget, double *out) {
    *out = INFINITY;
    t->steps.len = 0;
    if (propagate(t, s, 1, 1) < 0) return -1;
    for (int i = 0; i < t->ngoal; i++)
        if (t->hcost[t->goal[i]] == INFINITY) return 0;
    int n = relaxed_plan(t);
    if (n < 0) return -1;
    unsigned char *values = t->trial;
    memcpy(values, s, (size_t)t->nvars);
    double total = 0.0;
    int limit = 2 * n + 8;
    while (!is_goal(t, values)) {
        int progress = 0;
        for (int i = 0; i < n; i++) {
            int a = t->pending[i];
            if (!all_hold(t, ROW(t->pre, a), ROWLEN(t->pre, a), values)) continue;
            if (!apply_changed(t, a, values)) continue;
            progress = 1;
            total += t->cost[a];
            if (vec_push(&t->steps, a) < 0) return -1;
            if (total >= budget || t->steps.len > limit) {
                t->steps.len = 0;
                return 0;
            }
            if (is_goal(t, values)) {
                *out = total;
                return 0;
            }
        }
        if (!progress) {
            t->steps.len = 0;
            return 0;
        }
    }
    *out = total;
    return 0;
}

/* relaxed.py reachable_without: whether the relaxed goal is reachable from s without
 * action banned (the plain reachability pass, no costs). */
static int reachable_without(CoreTask *t, const unsigned char *s, int banned) {
    unsigned char *reached = t->flag;
    int *unsat = t->unsat, *queue = t->list, len = 0;
    for (int a = 0; a < t->nactions; a++) unsat[a] = ROWLEN(t->pre, a);
    for (int k = 0; k < t->natoms; k++) {
        reached[k] = (unsigned char)holds(t, k, s);
        if (reached[k]) queue[len++] = k;
    }
    for (int i = 0; i < ROWLEN(t->no_pre, 0); i++) {
        int a = ROW(t->no_pre, 0)[i];
        if (a == banned) continue;
        const int *es = ROW(t->achieves, a);
        for (int j = 0; j < ROWLEN(t->achieves, a); j++)
            if (!reached[es[j]]) reached[es[j]] = 1, queue[len++] = es[j];
    }
    while (len) {
        int atom = queue[--len];
        const int *us = ROW(t->users, atom);
        for (int j = 0; j < ROWLEN(t->users, atom); j++) {
            int a = us[j];
            if (--unsat[a] != 0 || a == banned) continue;
            const int *es = ROW(t->achieves, a);
            for (int i = 0; i < ROWLEN(t->achieves, a); i++)
                if (!reached[es[i]]) reached[es[i]] = 1, queue[len++] = es[i];
        }
    }
    for (int i = 0; i < t->ngoal; i++)
        if (!reached[t->goal[i]]) return 0;
    return 1;
}

/* relaxed.py landmark_bound: the costs of the relaxed plan's actions that every relaxed
 * plan needs (the goal is unreachable without each), summed in the plan's order. */
static double landmark_bound(CoreTask *t, const unsigned char *s) {
    if (propagate(t, s, 1, 1) < 0) return -1.0;
    for (int i = 0; i < t->ngoal; i++)
        if (t->hcost[t->goal[i]] == INFINITY) return INFINITY;
    int n = relaxed_plan(t);
    if (n < 0) return -1.0;
    double total = 0.0;
    for (int i = 0; i < n; i++) /* pending is not touched by reachable_without */
        if (!reachable_without(t, s, t->pending[i])) total += t->cost[t->pending[i]];
    return total;
}

static PyObject *int_list(const int *data, int len) {
    PyObject *list = PyList_New(len);
    for (int i = 0; list && i < len; i++) {
        PyObject *x = PyLong_FromLong(data[i]);
        if (!x) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, i, x);
    }
    return list;
}

/* ------------------------------------------------------------ the search's memory */

typedef struct {
    double key, h;
    long long tie;
    int node;
} NodeEntry;

typedef struct {
    NodeEntry *data;
    Py_ssize_t len, cap;
} NodeHeap;

static inline int node_less(const NodeEntry *a, const NodeEntry *b) {
    if (a->key != b->key) return a->key < b->key;
    if (a->h != b->h) return a->h < b->h;
    return a->tie < b->tie;
}

static int nheap_push(NodeHeap *h, NodeEntry e) {
    if (h->len == h->cap) {
        Py_ssize_t cap = h->cap ? 2 * h->cap : 1024;
        NodeEntry *data = realloc(h->data, (size_t)cap * sizeof(NodeEntry));
        if (!data) return -1;
        h->data = data;
        h->cap = cap;
    }
    Py_ssize_t i = h->len++;
    while (i > 0) {
        Py_ssize_t parent = (i - 1) >> 1;
        if (!node_less(&e, &h->data[parent])) break;
        h->data[i] = h->data[parent];
        i = parent;
    }
    h->data[i] = e;
    return 0;
}

static NodeEntry nheap_pop(NodeHeap *h) {
    NodeEntry top = h->data[0];
    NodeEntry last = h->data[--h->len];
    Py_ssize_t n = h->len, i = 0;
    while (1) {
        Py_ssize_t child = 2 * i + 1;
        if (child >= n) break;
        if (child + 1 < n && node_less(&h->data[child + 1], &h->data[child])) child++;
        if (!node_less(&h->data[child], &last)) break;
        h->data[i] = h->data[child];
        i = child;
    }
    if (n > 0) h->data[i] = last;
    return top;
}

/* Every state met, once: its bytes in an arena, found again through an open hash table. */
typedef struct {
    int nvars;
    unsigned char *states;
    uint64_t *hash;
    double *g;      /* INFINITY: no g yet (g_of has no entry) */
    double *h;      /* the heuristic's value once computed (NAN: not yet) */
    int *parent, *via;
    unsigned char *closed, *evaluated;
    int count, cap;
    int *slots; /* -1: empty */
    int nslots;
} Nodes;

static uint64_t hash_bytes(const unsigned char *s, int n) {
    uint64_t h = 1469598103934665603ULL;
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = (h ^ w) * 0x100000001b3ULL;
        h ^= h >> 29;
    }
    for (; i < n; i++) h = (h ^ s[i]) * 0x100000001b3ULL;
    h ^= h >> 32;
    return h * 0x9E3779B97F4A7C15ULL;
}

static int nodes_grow(Nodes *m) {
    int cap = m->cap ? 2 * m->cap : 4096;
    unsigned char *states = realloc(m->states, (size_t)cap * (size_t)(m->nvars ? m->nvars : 1));
    if (!states) return -1;
    m->states = states;
#define GROW(field, type)                                             \
    do {                                                              \
        type *p = realloc(m->field, (size_t)cap * sizeof(type));      \
        if (!p) return -1;                                            \
        m->field = p;                                                 \
    } while (0)
    GROW(hash, uint64_t);
    GROW(g, double);
    GROW(h, double);
    GROW(parent, int);
    GROW(via, int);
    GROW(closed, unsigned char);
    GROW(evaluated, unsigned char);
#undef GROW
    m->cap = cap;
    if ((long long)cap * 2 > m->nslots) {
        int nslots = m->nslots ? m->nslots : 8192;
        while (nslots < 2 * cap) nslots *= 2;
        int *slots = malloc((size_t)nslots * sizeof(int));
        if (!slots) return -1;
        memset(slots, 0xff, (size_t)nslots * sizeof(int));
        for (int i = 0; i < m->count; i++) {
            uint64_t j = m->hash[i] & (uint64_t)(nslots - 1);
            while (slots[j] >= 0) j = (j + 1) & (uint64_t)(nslots - 1);
            slots[j] = i;
        }
        free(m->slots);
        m->slots = slots;
        m->nslots = nslots;
    }
    return 0;
}

/* The node of state s, made (with no g yet) if new; -1 on a memory error. */
static int nodes_get(Nodes *m, const unsigned char *s) {
    uint64_t h = hash_bytes(s, m->nvars);
    if (m->count == m->cap && nodes_grow(m) < 0) return -1;
    uint64_t mask = (uint64_t)(m->nslots - 1), j = h & mask;
    while (m->slots[j] >= 0) {
        int i = m->slots[j];
        if (m->hash[i] == h && memcmp(m->states + (size_t)i * m->nvars, s, (size_t)m->nvars) == 0)
            return i;
        j = (j + 1) & mask;
    }
    int i = m->count++;
    m->slots[j] = i;
    memcpy(m->states + (size_t)i * m->nvars, s, (size_t)m->nvars);
    m->hash[i] = h;
    m->g[i] = INFINITY;
    m->h[i] = NAN;
    m->parent[i] = -1;
    m->via[i] = -1;
    m->closed[i] = 0;
    m->evaluated[i] = 0;
    return i;
}

static void nodes_free(Nodes *m) {
    free(m->states);
    free(m->hash);
    free(m->g);
    free(m->h);
    free(m->parent);
    free(m->via);
    free(m->closed);
    free(m->evaluated);
    free(m->slots);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static PyObject *path_of(const Nodes *m, int node) {
    int len = 0;
    for (int i = node; m->parent[i] >= 0; i = m->parent[i]) len++;
    PyObject *out = PyList_New(len);
    if (!out) return NULL;
    for (int i = node; m->parent[i] >= 0; i = m->parent[i]) {
        PyObject *a = PyLong_FromLong(m->via[i]);
        if (!a) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, --len, a);
    }
    return out;
}

static inline double priority(int order, double weight, double g, double h) {
    if (order == 1) return g + weight * h; /* weighted A* */
    if (order == 2) return h;              /* greedy */
    return g + h;                          /* A* */
}

/* ------------------------------------------------------------ best_first */

static const char *search_kwlist[] = {"", "heuristic", "order", "weight", "satisficing",
                                      "max_expansions", "deadline", "lookahead", "deferred",
                                      "has_incumbent", "incumbent_cost", NULL};

/* search.best_first over the encoded task from its initial state (the bytes given).
 * Returns (status, path, cost, expanded, generated, steps): status 0 found at a goal node,
 * 1 the incumbent (path to the node the lookahead ran from, then its steps; path None: the
 * incumbent given), 2 exhausted, 3 limit. */
static PyObject *task_search(CoreTask *t, PyObject *args, PyObject *kwds) {
    Py_buffer init;
    int which, order, satisficing, deferred, has_incumbent;
    double weight, deadline, incumbent_cost;
    long long max_expansions;
    int with_lookahead;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "y*iidpLdpppd", (char **)search_kwlist, &init,
                                     &which, &order, &weight, &satisficing, &max_expansions,
                                     &deadline, &with_lookahead, &deferred, &has_incumbent,
                                     &incumbent_cost))
        return NULL;
    if (init.len != t->nvars) {
        PyBuffer_Release(&init);
        return PyErr_Format(PyExc_ValueError, "a state has %d bytes", t->nvars);
    }
    Nodes m = {0};
    m.nvars = t->nvars;
    NodeHeap heap = {0};
    PyObject *result = NULL;
    IntVec steps = {0};
    unsigned char *child = malloc((size_t)t->nvars + 1);
    int *applicable = malloc((size_t)(t->nactions + 1) * sizeof(int));
    long long expanded = 0, generated = 1, tie = 0;
    int status = 2, found_node = -1, incumbent_node = -1;
    double found_cost = INFINITY;
    if (!child || !applicable) goto nomemory;
    int start = nodes_get(&m, (const unsigned char *)init.buf);
    if (start < 0) goto nomemory;
    double h0 = evaluate(t, which, m.states + (size_t)start * t->nvars);
    if (h0 < 0) goto nomemory;
    if (h0 == INFINITY) {
        result = Py_BuildValue("(iOdLLO)", 2, Py_None, INFINITY, 0LL, 1LL, Py_None);
        goto done;
    }
    m.g[start] = 0.0;
    m.h[start] = h0;
    m.evaluated[start] = 1;
    double best_h = INFINITY, bound = INFINITY;
    if (has_incumbent) {
        bound = incumbent_cost;
        best_h = h0;
    }
    NodeEntry first = {priority(order, weight, 0.0, h0), h0, tie++, start};
    if (nheap_push(&heap, first) < 0) goto nomemory;
    while (heap.len) {
        NodeEntry top = nheap_pop(&heap);
        double key = top.key, h1 = top.h;
        int node = top.node;
        if (key >= bound) break;
        if (m.closed[node]) continue;
        double g = m.g[node];
        if (deferred && !m.evaluated[node]) {
            double hv = evaluate(t, which, m.states + (size_t)node * t->nvars);
            if (hv < 0) goto nomemory;
            h1 = hv > h1 ? hv : h1;
            m.h[node] = h1;
            m.evaluated[node] = 1;
            generated++;
            if ((generated & 63) == 0 && now() > deadline) {
                status = 3;
                goto finish;
            }
            if (h1 == INFINITY || g + h1 >= bound) continue;
            double k2 = priority(order, weight, g, h1);
            if (k2 > key) {
                NodeEntry again = {k2, h1, tie++, node};
                if (nheap_push(&heap, again) < 0) goto nomemory;
                continue;
            }
        }
        const unsigned char *s = m.states + (size_t)node * t->nvars;
        if (is_goal(t, s)) {
            status = 0;
            found_node = node;
            found_cost = g;
            goto finish;
        }
        m.closed[node] = 1;
        expanded++;
        if (expanded >= max_expansions || ((expanded & 255) == 0 && now() > deadline)) {
            status = 3;
            goto finish;
        }
        if ((expanded & 1023) == 0 && PyErr_CheckSignals() < 0) goto done;
        if (with_lookahead && bound == INFINITY && h1 < best_h) {
            best_h = h1;
            double cost;
            if (lookahead(t, s, bound - g, &cost) < 0) goto nomemory;
            if (g + cost < bound) {
                bound = g + cost;
                steps.len = 0;
                for (int i = 0; i < t->steps.len; i++)
                    if (vec_push(&steps, t->steps.data[i]) < 0) goto nomemory;
                incumbent_node = node;
                if (satisficing || key >= bound) break;
            }
        }
        int count = successors(t, s, applicable);
        for (int j = 0; j < count; j++) {
            int a = applicable[j];
            memcpy(child, m.states + (size_t)node * t->nvars, (size_t)t->nvars);
            apply(t, a, child);
            double g2 = g + t->cost[a];
            int c = nodes_get(&m, child);
            if (c < 0) goto nomemory;
            if (g2 >= m.g[c]) continue;
            double h2;
            if (deferred) {
                if (!m.evaluated[c]) {
                    h2 = h1 - t->cost[a];
                    if (!(h2 > 0.0)) h2 = 0.0; /* max(h1 - cost, 0.0) */
                    if (g2 + h2 >= bound) continue;
                    m.g[c] = g2;
                    m.parent[c] = node;
                    m.via[c] = a;
                    NodeEntry e = {priority(order, weight, g2, h2), h2, tie++, c};
                    if (nheap_push(&heap, e) < 0) goto nomemory;
                    continue;
                }
                h2 = m.h[c];
            } else {
                if (isnan(m.h[c])) {
                    double hv = evaluate(t, which, child);
                    if (hv < 0) goto nomemory;
                    m.h[c] = hv;
                }
                h2 = m.h[c];
                generated++;
            }
            if (h2 == INFINITY || g2 + h2 >= bound) continue;
            m.g[c] = g2;
            m.parent[c] = node;
            m.via[c] = a;
            m.closed[c] = 0;
            NodeEntry e = {priority(order, weight, g2, h2), h2, tie++, c};
            if (nheap_push(&heap, e) < 0) goto nomemory;
        }
    }
    status = bound < INFINITY ? 1 : 2;
finish:;
    PyObject *path = Py_None;
    Py_INCREF(path);
    double cost = INFINITY;
    if (status == 0) {
        Py_DECREF(path);
        path = path_of(&m, found_node);
        cost = found_cost;
    } else if (status == 1) {
        cost = bound;
        if (incumbent_node >= 0) {
            Py_DECREF(path);
            path = path_of(&m, incumbent_node);
        }
    }
    if (!path) goto done;
    PyObject *tail = Py_None;
    Py_INCREF(tail);
    if (status == 1 && incumbent_node >= 0) {
        Py_DECREF(tail);
        if (!(tail = int_list(steps.data, steps.len))) {
            Py_DECREF(path);
            goto done;
        }
    }
    result = Py_BuildValue("(iOdLLO)", status, path, cost, expanded, generated, tail);
    Py_DECREF(path);
    Py_DECREF(tail);
    goto done;
nomemory:
    PyErr_NoMemory();
done:
    free(steps.data);
    PyBuffer_Release(&init);
    free(child);
    free(applicable);
    free(heap.data);
    nodes_free(&m);
    return result;
}

/* The heuristic's value at one state (bytes): what tests compare with relaxed.py. */
static PyObject *task_evaluate(CoreTask *t, PyObject *args) {
    Py_buffer state;
    int which;
    if (!PyArg_ParseTuple(args, "y*i", &state, &which)) return NULL;
    if (state.len != t->nvars) {
        PyBuffer_Release(&state);
        return PyErr_Format(PyExc_ValueError, "a state has %d bytes", t->nvars);
    }
    double h = evaluate(t, which, (const unsigned char *)state.buf);
    PyBuffer_Release(&state);
    if (h < 0) return PyErr_NoMemory();
    return PyFloat_FromDouble(h);
}

static int state_arg(CoreTask *t, PyObject *args, Py_buffer *state) {
    if (!PyArg_ParseTuple(args, "y*", state)) return -1;
    if (state->len != t->nvars) {
        PyBuffer_Release(state);
        PyErr_Format(PyExc_ValueError, "a state has %d bytes", t->nvars);
        return -1;
    }
    return 0;
}

/* The goal atoms no sequence of actions reaches from a state (bytes), ascending. */
static PyObject *task_unreachable(CoreTask *t, PyObject *args) {
    Py_buffer state;
    if (state_arg(t, args, &state) < 0) return NULL;
    int r = propagate(t, (const unsigned char *)state.buf, 1, 1);
    PyBuffer_Release(&state);
    if (r < 0) return PyErr_NoMemory();
    int len = 0;
    for (int i = 0; i < t->ngoal; i++)
        if (t->hcost[t->goal[i]] == INFINITY) t->list[len++] = t->goal[i];
    return int_list(t->list, len);
}

/* relaxed.py relevant: the actions that can contribute to the goal, found backward from
 * it (achievers of relevant atoms; setters of a number a relevant action adds to). */
static PyObject *task_relevant(CoreTask *t, PyObject *noargs) {
    int n = t->natoms, nact = t->nactions;
    unsigned char *atom_in = calloc((size_t)n + 1, 1), *chosen = calloc((size_t)nact + 1, 1);
    unsigned char *var_in = calloc((size_t)t->nvars + 1, 1);
    IntVec atoms = {0}, todo = {0}, *setters = calloc((size_t)t->nvars + 1, sizeof(IntVec));
    PyObject *out = NULL;
    if (!atom_in || !chosen || !var_in || !setters) goto nomem;
    for (int a = 0; a < nact; a++)
        for (int i = 0; i < ROWLEN(t->sets_var, a); i++)
            if (vec_push(&setters[ROW(t->sets_var, a)[i]], a) < 0) goto nomem;
    for (int i = 0; i < t->ngoal; i++) {
        atom_in[t->goal[i]] = 1;
        if (vec_push(&atoms, t->goal[i]) < 0) goto nomem;
    }
    while (atoms.len || todo.len) {
        if (todo.len) { /* choose an action: its preconditions and counters become relevant */
            int k = todo.data[--todo.len];
            if (chosen[k]) continue;
            chosen[k] = 1;
            for (int i = 0; i < ROWLEN(t->pre, k); i++) {
                int p = ROW(t->pre, k)[i];
                if (!atom_in[p]) {
                    atom_in[p] = 1;
                    if (vec_push(&atoms, p) < 0) goto nomem;
                }
            }
            for (int i = 0; i < ROWLEN(t->adds_var, k); i++) {
                int var = ROW(t->adds_var, k)[i];
                if (var_in[var]) continue;
                var_in[var] = 1;
                for (int j = 0; j < setters[var].len; j++)
                    if (vec_push(&todo, setters[var].data[j]) < 0) goto nomem;
            }
            continue;
        }
        int atom = atoms.data[--atoms.len];
        for (int j = 0; j < ROWLEN(t->achievers, atom); j++)
            if (vec_push(&todo, ROW(t->achievers, atom)[j]) < 0) goto nomem;
    }
    int len = 0;
    for (int a = 0; a < nact; a++)
        if (chosen[a]) t->list[len++] = a;
    out = int_list(t->list, len);
    goto done;
nomem:
    PyErr_NoMemory();
done:
    free(atom_in);
    free(chosen);
    free(var_in);
    free(atoms.data);
    free(todo.data);
    if (setters)
        for (int v = 0; v < t->nvars; v++) free(setters[v].data);
    free(setters);
    return out;
}

/* Variables action a reads or writes, into out (repeats possible); how many. */
static int touched(const CoreTask *t, int a, int *out) {
    int n = 0;
    for (int i = 0; i < ROWLEN(t->pre, a); i++) out[n++] = t->atom_var[ROW(t->pre, a)[i]];
    for (int i = 0; i < ROWLEN(t->sets_var, a); i++) out[n++] = ROW(t->sets_var, a)[i];
    for (int i = 0; i < ROWLEN(t->adds_var, a); i++) out[n++] = ROW(t->adds_var, a)[i];
    return n;
}

/* planner.independent_parts over the given actions (numbers, ascending): per goal
 * condition (its variable given) and per action, the part it is in (-1: none), parts
 * numbered in the order their first goal condition comes. */
static PyObject *task_parts(CoreTask *t, PyObject *args) {
    PyObject *goal_obj, *actions_obj, *out = NULL;
    if (!PyArg_ParseTuple(args, "OO", &goal_obj, &actions_obj)) return NULL;
    int *goal_var = NULL, *acts = NULL, *part_of_var = NULL, *part_of = NULL, *goal_part = NULL;
    int *vars = NULL;
    IntVec *users = NULL, stack = {0};
    Py_ssize_t ng, na;
    if (read_ints(goal_obj, &goal_var, &ng) < 0 || read_ints(actions_obj, &acts, &na) < 0)
        goto done;
    int width = 1;
    for (int a = 0; a < t->nactions; a++) {
        int w = ROWLEN(t->pre, a) + ROWLEN(t->sets_var, a) + ROWLEN(t->adds_var, a);
        if (w > width) width = w;
    }
    users = vecs_new(t->nvars);
    part_of_var = malloc((size_t)(t->nvars + 1) * sizeof(int));
    part_of = malloc((size_t)(na + 1) * sizeof(int));
    goal_part = malloc((size_t)(ng + 1) * sizeof(int));
    vars = malloc((size_t)width * sizeof(int));
    if (!users || !part_of_var || !part_of || !goal_part || !vars) goto nomem;
    for (Py_ssize_t r = 0; r < na; r++) {
        if (acts[r] < 0 || acts[r] >= t->nactions) {
            PyErr_SetString(PyExc_IndexError, "an action number out of range");
            goto done;
        }
        part_of[r] = -1;
        int n = touched(t, acts[r], vars);
        for (int i = 0; i < n; i++)
            if (vec_push(&users[vars[i]], (int)r) < 0) goto nomem;
    }
    for (int v = 0; v < t->nvars; v++) part_of_var[v] = -1;
    int parts = 0;
    for (Py_ssize_t g = 0; g < ng; g++) {
        int start = goal_var[g];
        if (start < 0 || start >= t->nvars) {
            PyErr_SetString(PyExc_IndexError, "a goal variable out of range");
            goto done;
        }
        if (part_of_var[start] < 0) {
            int part = part_of_var[start] = parts++;
            stack.len = 0;
            if (vec_push(&stack, start) < 0) goto nomem;
            while (stack.len) {
                const IntVec *us = &users[stack.data[--stack.len]];
                for (int j = 0; j < us->len; j++) {
                    int r = us->data[j];
                    if (part_of[r] >= 0) continue;
                    part_of[r] = part;
                    int n = touched(t, acts[r], vars);
                    for (int i = 0; i < n; i++) {
                        if (part_of_var[vars[i]] >= 0) continue;
                        part_of_var[vars[i]] = part;
                        if (vec_push(&stack, vars[i]) < 0) goto nomem;
                    }
                }
            }
        }
        goal_part[g] = part_of_var[start];
    }
    PyObject *gp = int_list(goal_part, (int)ng), *ap = gp ? int_list(part_of, (int)na) : NULL;
    if (ap) out = Py_BuildValue("(NN)", gp, ap);
    else Py_XDECREF(gp);
    goto done;
nomem:
    PyErr_NoMemory();
done:
    free(goal_var);
    free(acts);
    free(part_of_var);
    free(part_of);
    free(goal_part);
    free(vars);
    free(stack.data);
    vecs_free(&users, t->nvars);
    return out;
}

/* The landmark bound at a state (bytes). */
static PyObject *task_landmark_bound(CoreTask *t, PyObject *args) {
    Py_buffer state;
    if (state_arg(t, args, &state) < 0) return NULL;
    double h = landmark_bound(t, (const unsigned char *)state.buf);
    PyBuffer_Release(&state);
    if (h < 0) return PyErr_NoMemory();
    return PyFloat_FromDouble(h);
}

/* The lookahead from one state (bytes): (steps, cost), ([], inf) where it finds no plan. */
static PyObject *task_lookahead(CoreTask *t, PyObject *args) {
    Py_buffer state;
    double budget = INFINITY;
    if (!PyArg_ParseTuple(args, "y*|d", &state, &budget)) return NULL;
    if (state.len != t->nvars) {
        PyBuffer_Release(&state);
        return PyErr_Format(PyExc_ValueError, "a state has %d bytes", t->nvars);
    }
    double cost;
    int r = lookahead(t, (const unsigned char *)state.buf, budget, &cost);
    PyBuffer_Release(&state);
    if (r < 0) return PyErr_NoMemory();
    PyObject *steps = int_list(t->steps.data, t->steps.len);
    if (!steps) return NULL;
    return Py_BuildValue("(Nd)", steps, cost);
}

/* The applicable actions at one state (bytes), in the successor generator's order. */
static PyObject *task_successors(CoreTask *t, PyObject *args) {
    Py_buffer state;
    if (!PyArg_ParseTuple(args, "y*", &state)) return NULL;
    if (state.len != t->nvars) {
        PyBuffer_Release(&state);
        return PyErr_Format(PyExc_ValueError, "a state has %d bytes", t->nvars);
    }
    int *out = malloc((size_t)(t->nactions + 1) * sizeof(int));
    if (!out) {
        PyBuffer_Release(&state);
        return PyErr_NoMemory();
    }
    int count = successors(t, (const unsigned char *)state.buf, out);
    PyBuffer_Release(&state);
    PyObject *list = PyList_New(count);
    for (int i = 0; list && i < count; i++) PyList_SET_ITEM(list, i, PyLong_FromLong(out[i]));
    free(out);
    return list;
}

static PyMethodDef task_methods[] = {
    {"search", (PyCFunction)(void (*)(void))task_search, METH_VARARGS | METH_KEYWORDS,
     "best_first over the encoded task: (status, path, cost, expanded, generated, steps)"},
    {"evaluate", (PyCFunction)task_evaluate, METH_VARARGS,
     "evaluate(state_bytes, heuristic): 0 blind, 1 h_max, 2 LM-cut"},
    {"unreachable", (PyCFunction)task_unreachable, METH_VARARGS,
     "unreachable(state_bytes): the goal atoms no sequence of actions reaches"},
    {"relevant", (PyCFunction)task_relevant, METH_NOARGS,
     "relevant(): the actions that can contribute to the goal, ascending"},
    {"parts", (PyCFunction)task_parts, METH_VARARGS,
     "parts(goal_vars, actions): the independent part of each goal condition and action"},
    {"landmark_bound", (PyCFunction)task_landmark_bound, METH_VARARGS,
     "landmark_bound(state_bytes): the costs of the actions every relaxed plan needs"},
    {"lookahead", (PyCFunction)task_lookahead, METH_VARARGS,
     "lookahead(state_bytes, budget=inf): the relaxed plan tried in the task, (steps, cost)"},
    {"successors", (PyCFunction)task_successors, METH_VARARGS,
     "successors(state_bytes): the applicable actions' numbers"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject TaskType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "goap.planning._core.Task",
    .tp_basicsize = sizeof(CoreTask),
    .tp_dealloc = (destructor)task_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A task encoded by goap.planning.compiled (a dict of integer tables).",
    .tp_methods = task_methods,
    .tp_new = task_new,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_core",
    "The planner's hot loop in C: best-first search, successors, h_max, LM-cut.", -1, NULL,
};

PyMODINIT_FUNC PyInit__core(void) {
    if (PyType_Ready(&TaskType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    Py_INCREF(&TaskType);
    if (PyModule_AddObject(m, "Task", (PyObject *)&TaskType) < 0) {
        Py_DECREF(&TaskType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
