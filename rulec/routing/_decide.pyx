# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The router's decision path in Cython: the twin of decide.py (same decisions, same draws).

Where profiling put the time of a decision: the R6/R8 draws on saturated candidate sets
(rejection misses, then the exact scan) and the Python overhead around them. Here the
tables a Router precomputed (levels, groups, running sums, each outcome's candidates) live
in C arrays; the PRNG is still the router's `random.Random` (its `random()` is called exactly
when and as often as the pure twin calls it), and every value that leaves this module
(Choices, times, decision dicts) is the same Python object the pure twin would hand out.
Sums of floats a draw depends on are taken by Python's own `sum` (its algorithm changed in
Python 3.12), so both twins agree on every Python version.
"""

from cpython.dict cimport PyDict_GetItem
from cpython.object cimport PyObject
from libc.stdlib cimport free, malloc

from rulec.routing import modes
from rulec.routing.events import _time_cache, bad_exclusive, check_chat_key
from rulec.routing.stores.base import DEGRADED
from rulec.routing.trace import NO_TRACE


cdef extern from "Python.h":
    bint PyUnicode_IS_ASCII(object)
    Py_ssize_t PyUnicode_GET_LENGTH(object)

cdef long OFFLINE = 0, SUSPENDED = 1, ONLINE = 2
cdef int TRIES = modes.TRIES
cdef int CONVERSION = modes.CONVERSION
cdef Py_ssize_t CACHE_MAX = 65536
cdef dict TIME_CACHE = _time_cache


cdef inline object dict_get(dict d, key):
    """d.get(key) without the method lookup."""
    cdef PyObject *v = PyDict_GetItem(d, key)
    return None if v == NULL else <object> v


cdef int *int_array(values) except NULL:
    cdef Py_ssize_t i, n = len(values)
    cdef int *out = <int *> malloc(max(n, 1) * sizeof(int))
    if out == NULL:
        raise MemoryError()
    for i in range(n):
        out[i] = values[i]
    return out


cdef double *double_array(values) except NULL:
    cdef Py_ssize_t i, n = len(values)
    cdef double *out = <double *> malloc(max(n, 1) * sizeof(double))
    if out == NULL:
        raise MemoryError()
    for i in range(n):
        out[i] = values[i]
    return out


cdef inline Py_ssize_t bisect_right(double *cum, Py_ssize_t n, double x) noexcept nogil:
    """bisect.bisect_right over cum[:n] (the same comparisons, exact for these values)."""
    cdef Py_ssize_t lo = 0, hi = n, mid
    while lo < hi:
        mid = (lo + hi) >> 1
        if x < cum[mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo


cdef class Info:
    """R6 data of one R5 outcome (records.Candidates) in C arrays; `choice[i]` is the Choice
    of `members[i]`."""

    cdef int n, nhumans
    cdef int *members
    cdef double *cum
    cdef double total
    cdef int *humans
    cdef bint has_conv
    cdef list choice
    cdef object robot_choice

    def __cinit__(self, cands, list group_robot_c):
        members, cum, choice, robot, humans, conv_groups, total, _ = cands
        self.n = len(members)
        self.members = int_array(members)
        self.cum = double_array(cum)
        self.total = total
        self.nhumans = len(humans)
        self.humans = int_array(humans)
        self.has_conv = len(conv_groups) > 0
        self.choice = [choice[a] for a in members]
        self.robot_choice = None if robot is None else group_robot_c[robot]

    def __dealloc__(self):
        free(self.members)
        free(self.cum)
        free(self.humans)


cdef class Decider:
    """The decision path of one router (its tables, choices and candidate cache)."""

    cdef object r, snapshot, _random, cands
    cdef dict index
    cdef public object rng, outcome
    cdef long busy
    cdef double hold, window
    cdef bint exclusive_direct, robot_first
    cdef Py_ssize_t n_agents, n_groups
    cdef int *level
    cdef int *g_mode
    cdef int *g_start
    cdef int *g_len
    cdef int *g_flat
    cdef double *g_cum
    cdef int *all_agents
    cdef double *all_cum
    cdef int *free_buf
    cdef list agent_groups, nobody_choices
    cdef object nobody, robot_first_c, offline_robot, to_pool
    cdef list sticky_c, exclusive_c, fallback_c, group_robot_c, group_c, sticky_group_c
    cdef dict infos
    cdef list conv_src
    cdef double **conv_w
    cdef double **conv_cum

    def __cinit__(self, router):
        self.level = self.g_mode = self.g_start = self.g_len = self.g_flat = NULL
        self.all_agents = self.free_buf = NULL
        self.g_cum = self.all_cum = NULL
        self.conv_w = self.conv_cum = NULL
        self.n_groups = 0

    def __init__(self, router):
        cdef Py_ssize_t g, k, pos
        r = self.r = router
        self.index, self.cands, self.snapshot = r.index, r._cands, r._snapshot
        self.busy, self.hold, self.window = r.busy, r.hold, r.window
        self.exclusive_direct, self.robot_first = r.exclusive_direct, r.robot_first
        self.n_agents = len(r.level)
        self.level = int_array(r.level)
        self.all_agents = int_array(r.all_agents)
        self.all_cum = double_array(r.all_cum)
        self.free_buf = int_array([0] * self.n_agents)
        self.n_groups = len(r.g_agents)
        self.g_mode = int_array(r.g_mode)
        self.g_len = int_array([len(m) for m in r.g_agents])
        self.g_start = int_array([0] * self.n_groups)
        flat, cums = [], []
        for g in range(self.n_groups):
            self.g_start[g] = len(flat)
            flat += r.g_agents[g]
            cums += r.g_cum[g]
        self.g_flat = int_array(flat)
        self.g_cum = double_array(cums)
        self.conv_w = <double **> malloc(max(self.n_groups, 1) * sizeof(double *))
        self.conv_cum = <double **> malloc(max(self.n_groups, 1) * sizeof(double *))
        if self.conv_w == NULL or self.conv_cum == NULL:
            raise MemoryError()
        for g in range(self.n_groups):
            self.conv_w[g] = self.conv_cum[g] = NULL
        self.conv_src = [None] * self.n_groups
        self.agent_groups = r.agent_groups
        self.nobody, self.robot_first_c = r._nobody, r._robot_first
        self.offline_robot, self.to_pool = r._offline_robot, r._to_pool
        self.sticky_c, self.exclusive_c = r._sticky_c, r._exclusive_c
        self.fallback_c, self.group_robot_c = r._fallback_c, r._group_robot_c
        # each group's choices by member position (routers keep them by agent index)
        self.group_c = [[r._group_c[g][a] for a in r.g_agents[g]] for g in range(self.n_groups)]
        self.sticky_group_c = [
            [r._sticky_group_c[g][a] for a in r.g_agents[g]] for g in range(self.n_groups)
        ]
        self.infos = {}
        self.outcome = None  # the matcher's match_outcome, bound on first use
        self.set_rng(r.rng)

    def __dealloc__(self):
        cdef Py_ssize_t g
        if self.conv_w != NULL:
            for g in range(self.n_groups):
                free(self.conv_w[g])
                free(self.conv_cum[g])
        free(self.conv_w)
        free(self.conv_cum)
        free(self.level)
        free(self.g_mode)
        free(self.g_start)
        free(self.g_len)
        free(self.g_flat)
        free(self.g_cum)
        free(self.all_agents)
        free(self.all_cum)
        free(self.free_buf)

    def set_rng(self, rng):
        """Draw from `rng` (the router's seeded PRNG; Router.restart gives a new one)."""
        self.rng = rng
        self._random = rng.random

    def route(self, chat, obs, commit, drained=None):
        """decide.Decider.route: snapshot, decide, observer, commit, the decision dict."""
        cdef bint plain = False
        r = self.r
        if drained is None:
            # the common chat: a dict with a non-empty ASCII buyer and a time parsed before;
            # anything else takes the full check (its errors are the pure twin's)
            if type(chat) is dict:
                buyer = dict_get(<dict> chat, "buyer")
                ts = dict_get(<dict> chat, "time")
                if type(buyer) is str and PyUnicode_IS_ASCII(buyer) and PyUnicode_GET_LENGTH(buyer):
                    t = dict_get(TIME_CACHE, ts) if type(ts) is str else None
                    plain = t is not None
            if not plain:
                buyer, ts, t = check_chat_key(chat)
            queued_at = None
        else:
            buyer, ts, t, queued_at = drained
        snap = self.snapshot(buyer)
        c = self.decide(chat, t, snap)
        if obs is not NO_TRACE:
            obs.decided(chat, t, snap, c)
        done = commit((<tuple> c)[0], buyer, t)  # a Choice is a tuple (records.Choice)
        if not done:
            c, done = r._decide_again(chat, buyer, t, obs, commit)
        if queued_at is None:
            if c is self.to_pool:
                r._queue(chat, buyer, t, obs)
            d = {
                "buyer": buyer,
                "time": ts,
                "target": (<tuple> c)[1],
                "step": (<tuple> c)[2],
                "group": (<tuple> c)[4],
            }
        else:
            d = {
                "buyer": buyer,
                "time": ts,
                "target": (<tuple> c)[1],
                "step": "pool_drain",
                "group": (<tuple> c)[4],
                "via": (<tuple> c)[2],
                "queued_at": queued_at,
            }
        lines = obs.lines
        if lines is not None:
            d["trace"] = lines
        if done == DEGRADED:
            d["degraded"] = True
        return d

    cpdef object decide(self, chat, t, snap):
        """R1–R9 on a snapshot (contact, status, pending, conversion): a Choice; no writes."""
        cdef Py_ssize_t i, n
        cdef list status, pending
        contact, status_seq, pending_seq, conv = snap
        status = status_seq if type(status_seq) is list else list(status_seq)
        pending = pending_seq if type(pending_seq) is list else list(pending_seq)
        n = len(status)
        if n < self.n_agents or len(pending) < self.n_agents:
            raise IndexError("the store's state lists are shorter than the table's agents")
        for i in range(n):
            if <long> status[i] == ONLINE:
                break
        else:
            return self.nobody
        if contact is not None:
            c = self.sticky(contact, t, status, pending, conv)
            if c is not None:
                return c
        ex = dict_get(<dict> chat, "exclusive_agent") if type(chat) is dict else chat.get(
            "exclusive_agent"
        )
        if ex is not None:
            a = dict_get(self.index, ex) if ex.__class__ is str else bad_exclusive(ex)
            if self.exclusive_direct and a is not None and <long> status[<Py_ssize_t> a] == ONLINE:
                return self.exclusive_c[a]
        if self.robot_first:
            return self.robot_first_c
        outcome = self.outcome
        if outcome is None:
            outcome = self.outcome = self.r.table.matcher.match_outcome
        oid = outcome(chat)
        info = self.infos.get(oid)
        if info is None:
            info = self.info(chat, oid)
        return self.r6(<Info> info, status, pending, conv)

    cdef Info info(self, chat, oid):
        cands = self.cands.get(oid) or self.r._cand_info(chat, oid)
        if len(self.infos) >= CACHE_MAX:
            self.infos.clear()
        info = self.infos[oid] = Info(cands, self.group_robot_c)
        return info

    cdef inline bint free_agent(self, list status, list pending, int a):
        return <long> status[a] == ONLINE and <long> pending[a] <= self.busy

    cdef object r6(self, Info info, list status, list pending, conv):
        """decide.Decider.r6 (R6/R7), the draws in C."""
        cdef int g, a, i
        if info.has_conv:
            g = self.only_remaining(info, status)
            if g >= 0 and self.g_mode[g] == CONVERSION:
                i = self.conversion(g, status, pending, conv)
                return (<list> self.group_c[g])[i]
        if info.total:  # the first rejection-sampling try (see modes.draw_efficiency)
            i = bisect_right(info.cum, info.n, <double> self._random() * info.total)
            if self.free_agent(status, pending, info.members[i]):
                return info.choice[i]
        i = self.draw_efficiency(info.members, info.cum, info.n, status, pending, TRIES - 1)
        if i >= 0:
            return info.choice[i]
        if info.robot_choice is not None:
            return info.robot_choice
        i = self.draw_efficiency(
            self.all_agents, self.all_cum, self.n_agents, status, pending, TRIES
        )
        return self.fallback_c[self.all_agents[i]]

    cdef int only_remaining(self, Info info, list status) except -2:
        """The one robot-off group with an available agent, or -1 (none or several)."""
        cdef int found = -1, g, k, j
        for k in range(info.nhumans):
            g = info.humans[k]
            for j in range(self.g_start[g], self.g_start[g] + self.g_len[g]):
                if <long> status[self.g_flat[j]] == ONLINE:
                    if found >= 0:
                        return -1
                    found = g
                    break
        return found

    cdef int draw_efficiency(
        self, int *members, double *cum, Py_ssize_t n, list status, list pending, int tries
    ) except -2:
        """modes.draw_efficiency: the *position* in members of the agent drawn, or -1."""
        cdef double total = cum[n - 1] if n else 0.0
        cdef double x
        cdef Py_ssize_t i, k, nfree = 0, best = -1
        cdef long levels = 0, p, pb
        cdef int a
        if total:
            for k in range(tries):
                i = bisect_right(cum, n, <double> self._random() * total)
                if self.free_agent(status, pending, members[i]):
                    return i
        for i in range(n):
            if self.free_agent(status, pending, members[i]):
                self.free_buf[nfree] = i
                nfree += 1
                levels += self.level[members[i]]
        if nfree == 0:  # E4 among the available agents
            for i in range(n):
                a = members[i]
                if <long> status[a] == ONLINE:
                    if best < 0:
                        best = i
                        continue
                    p, pb = pending[a], pending[members[best]]
                    if p * self.level[members[best]] < pb * self.level[a]:
                        best = i
            return best
        if nfree == 1:  # one free agent: nothing to draw
            return self.free_buf[0]
        x = <double> self._random() * levels
        for k in range(nfree):
            x -= self.level[members[self.free_buf[k]]]
            if x < 0:
                return self.free_buf[k]
        return self.free_buf[nfree - 1]

    cdef int conversion(self, int g, list status, list pending, conv) except -2:
        """decide.Decider.conversion (R9): the position in group g of the agent drawn."""
        cdef Py_ssize_t n = self.g_len[g]
        src = self.r.conversion_weights(g, conv)
        if src is not self.conv_src[g]:  # the rates changed: new weights
            free(self.conv_w[g])
            free(self.conv_cum[g])
            self.conv_w[g] = self.conv_cum[g] = NULL
            self.conv_w[g] = double_array(src[1])
            self.conv_cum[g] = double_array(src[2])
            self.conv_src[g] = src
        return self.draw_weighted(g, src[1], status, pending)

    cdef int draw_weighted(self, int g, list weights, list status, list pending) except -2:
        """modes.draw_weighted over group g: the position of the agent drawn, or -1."""
        cdef int *members = self.g_flat + self.g_start[g]
        cdef double *cum = self.conv_cum[g]
        cdef Py_ssize_t n = self.g_len[g], i, k, nfree = 0, best = -1
        cdef double total = cum[n - 1] if n else 0.0
        cdef double x
        cdef long p, pb
        cdef int a
        if total > 0:
            for k in range(TRIES):
                i = bisect_right(cum, n, <double> self._random() * total)
                if self.free_agent(status, pending, members[i]):
                    return i
        fw = []
        for i in range(n):
            a = members[i]
            if <long> status[a] == ONLINE:
                p = pending[a]
                if p <= self.busy:
                    self.free_buf[nfree] = i
                    nfree += 1
                    fw.append(weights[i])
                elif best < 0:
                    best = i
                else:
                    pb = pending[members[best]]
                    if p * self.level[members[best]] < pb * self.level[a]:
                        best = i
        if nfree == 0:
            return best
        x = <double> self._random() * <double> sum(fw)
        for k in range(nfree):
            x -= <double> fw[k]
            if x < 0:
                return self.free_buf[k]
        return self.free_buf[nfree - 1]

    cdef object sticky(self, contact, t, list status, list pending, conv):
        """decide.Decider.sticky (R2a–R2e): a Choice, or None to continue with R3."""
        cdef double td = t, ctd, age
        cdef int ca, g, i
        cdef long st
        ca_obj, ct = contact
        ca = ca_obj
        ctd = ct
        age = td - ctd if t >= ct else 0.0  # a contact later than the chat: age 0
        if age >= self.window:
            return None
        st = status[ca]
        if age < self.hold:
            if st != OFFLINE:
                return self.sticky_c[ca]  # R2a
        elif st == ONLINE:
            return self.sticky_c[ca]  # R2b
        elif st == SUSPENDED:  # R2c
            for g in self.agent_groups[ca]:
                if self.g_mode[g] == CONVERSION:
                    i = self.conversion(g, status, pending, conv)
                else:
                    i = self.draw_efficiency(
                        self.g_flat + self.g_start[g],
                        self.g_cum + self.g_start[g],
                        self.g_len[g],
                        status,
                        pending,
                        TRIES,
                    )
                if i >= 0:
                    return (<list> self.sticky_group_c[g])[i]
            return None
        if self.robot_first:  # R2d
            return self.offline_robot
        return None
