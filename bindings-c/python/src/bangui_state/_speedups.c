/* bangui_state._speedups: the health-probe fast paths of Machine.step and
 * Machine.health_probe, as a CPython extension (built with the cffi one, API
 * mode only).
 *
 * Conversion only, no rule: step_probe reads a plain health-probe event dict
 * (exact dict, str, bool, int), health_probe its scalar arguments; both read
 * `now` (an exact int or an exact UTC datetime) with the same now_micros() and
 * call bangui_machine_health_probe() through the same probe(). In pure Python
 * the reading cost more than the seed's whole process_health_probe_result
 * (bench/python); here it is a few hundred instructions. Anything else
 * returns None having done nothing, and the Python code takes its own path,
 * which says what is wrong with its path.
 *
 * Limited API only (Py_LIMITED_API 3.11, set by setup.py), like the cffi
 * module: the wheel is cp311-abi3, one build for every CPython from 3.11 on.
 * Its price is the datetime `now`, read as `now - epoch` instead of through
 * the datetime C API (not in the limited API): about 1,400 more instructions
 * per call (bench/python/callgrind.py `step`); an int `now` costs the same.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "bangui_state.h"

static PyObject *key_type, *key_status, *key_online, *key_version, *key_active_jails, *probe_type;
/* The limited API has no datetime C API: the type, timezone.utc and the Unix
 * epoch come from the datetime module, and a datetime is read as
 * `now - epoch` (a timedelta's days, seconds, microseconds). */
static PyObject *datetime_type, *utc, *epoch, *name_tzinfo, *name_days, *name_seconds, *name_microseconds;

/* Whether every key of `dict` is an exact str: then looking a str up in it
 * runs no Python code (no foreign __eq__ that could change the dict while
 * this file holds borrowed references into it). */
static int str_keys_only(PyObject *dict) {
  Py_ssize_t position = 0;
  PyObject *key, *value;
  while (PyDict_Next(dict, &position, &key, &value)) {
    if (!PyUnicode_CheckExact(key)) return 0;
  }
  return 1;
}

/* An int attribute of `object` (a C-level member: no Python code runs). */
static int int_attribute(PyObject *object, PyObject *name, long long *out) {
  PyObject *value = PyObject_GetAttr(object, name);
  if (value == NULL) return 0;
  *out = PyLong_AsLongLong(value);
  Py_DECREF(value);
  return !(*out == -1 && PyErr_Occurred());
}

/* Unix microseconds of `now` if it is an int in [min_us, max_us) or an exact
 * datetime whose tzinfo is timezone.utc; else 0 (the caller clears any error). */
static int now_micros(PyObject *now, int64_t min_us, int64_t max_us, int64_t *out) {
  if (PyLong_CheckExact(now)) {
    int overflow = 0;
    long long value = PyLong_AsLongLongAndOverflow(now, &overflow);
    if (overflow || (value == -1 && PyErr_Occurred())) return 0;
    if (value < min_us || value >= max_us) return 0;
    *out = value;
    return 1;
  }
  if ((PyObject *)Py_TYPE(now) != datetime_type) return 0;
  /* tzinfo is a C getter; with timezone.utc on both sides the subtraction
   * calls no utcoffset(), so no Python code runs while the caller holds
   * borrowed references. */
  PyObject *tzinfo = PyObject_GetAttr(now, name_tzinfo);
  if (tzinfo == NULL) return 0;
  int is_utc = tzinfo == utc;
  Py_DECREF(tzinfo);
  if (!is_utc) return 0;
  PyObject *delta = PyNumber_Subtract(now, epoch);
  if (delta == NULL) return 0;
  long long days, seconds, micros;
  int ok = int_attribute(delta, name_days, &days) && int_attribute(delta, name_seconds, &seconds) &&
           int_attribute(delta, name_microseconds, &micros);
  Py_DECREF(delta);
  if (!ok) return 0;
  *out = (days * 86400 + seconds) * 1000000 + micros;
  return 1;
}

/* The machine of a fast path's call: its `expected` arguments, the first the
 * machine's address. -1: an error is set (the wrong argument count, an
 * address that is not an int); 0: a closed machine (address 0), for the
 * Python path to refuse; 1: `*out` is the machine. */
static int machine_of(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t expected, const char *wrong_count,
                      void **out) {
  if (nargs != expected) {
    PyErr_SetString(PyExc_TypeError, wrong_count);
    return -1;
  }
  *out = PyLong_AsVoidPtr(args[0]);
  if (*out == NULL) return PyErr_Occurred() ? -1 : 0;
  return 1;
}

/* The library's probe, with the GIL released (the machine's own mutex serialises callers). */
static bangui_result probe(void *address, bool online, const char *version, uint64_t active_jails, int64_t now_us,
                           bangui_probe_report *report, char **effects_json) {
  bangui_result code;
  Py_BEGIN_ALLOW_THREADS
  code = bangui_machine_health_probe((const bangui_machine *)address, online, version, active_jails, now_us, report,
                                     effects_json);
  Py_END_ALLOW_THREADS
  return code;
}

/* step_probe(machine_address, event, now, entries, min_us, max_us) -> list | str | None
 *
 * `entries` maps (online, version, active_jails) to the Python side's entry
 * (version as bytes or None, the steady effect dict, the key of its nested
 * dict, ...), or None for arguments the fast path must not take. Returns the
 * steady state's effects (a fresh copy), the effects JSON of a transition (a
 * str, the probe done), or None: not taken, nothing done (not a plain probe,
 * an unknown argument triple, an unusual `now`, or an error, which changed
 * nothing and which the JSON path reports with its path). */
static PyObject *step_probe(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
  (void)module;
  void *address;
  int found = machine_of(args, nargs, 6, "step_probe takes 6 arguments", &address);
  if (found <= 0) {
    if (found < 0) return NULL;
    Py_RETURN_NONE; /* a closed machine: the Python path raises */
  }
  PyObject *event = args[1], *now = args[2], *entries = args[3];
  if (!PyDict_CheckExact(event) || PyDict_Size(event) != 2 || !PyDict_CheckExact(entries) ||
      !str_keys_only(event)) {
    Py_RETURN_NONE;
  }
  PyObject *type = PyDict_GetItemWithError(event, key_type);
  if (type == NULL || !PyUnicode_CheckExact(type) || PyUnicode_Compare(type, probe_type) != 0) goto not_taken;
  PyObject *status = PyDict_GetItemWithError(event, key_status);
  if (status == NULL || !PyDict_CheckExact(status) || PyDict_Size(status) > 3 || !str_keys_only(status)) {
    goto not_taken;
  }
  PyObject *online = PyDict_GetItemWithError(status, key_online);
  if (online != Py_True && online != Py_False) goto not_taken;
  Py_ssize_t present = 1;
  PyObject *version = PyDict_GetItemWithError(status, key_version);
  if (version != NULL) {
    present++;
    if (version != Py_None && !PyUnicode_CheckExact(version)) goto not_taken;
  } else if (PyErr_Occurred()) {
    goto not_taken;
  } else {
    version = Py_None;
  }
  PyObject *active_jails = PyDict_GetItemWithError(status, key_active_jails);
  PyObject *zero = NULL;
  if (active_jails != NULL) {
    present++;
    if (!PyLong_CheckExact(active_jails)) goto not_taken;
  } else if (PyErr_Occurred()) {
    goto not_taken;
  }
  if (present != PyDict_Size(status)) goto not_taken;
  int64_t now_us;
  if (!now_micros(now, PyLong_AsLongLong(args[4]), PyLong_AsLongLong(args[5]), &now_us)) goto not_taken;
  if (active_jails == NULL) {
    zero = PyLong_FromLong(0);
    if (zero == NULL) return NULL;
    active_jails = zero;
  }
  PyObject *key = PyTuple_Pack(3, online, version, active_jails);
  Py_XDECREF(zero);
  if (key == NULL) return NULL;
  PyObject *entry = PyDict_GetItemWithError(entries, key);
  Py_DECREF(key);
  if (entry == NULL || !PyTuple_CheckExact(entry) || PyTuple_Size(entry) < 3) goto not_taken;
  PyObject *version_bytes = PyTuple_GetItem(entry, 0), *nested = PyTuple_GetItem(entry, 2);
  if ((version_bytes != Py_None && !PyBytes_CheckExact(version_bytes)) || !PyUnicode_CheckExact(nested)) {
    goto not_taken;
  }
  uint64_t jails = PyLong_AsUnsignedLongLong(active_jails);
  if (jails == (uint64_t)-1 && PyErr_Occurred()) goto not_taken;

  /* The entry is borrowed from a dict another thread may change while the GIL is released. */
  Py_INCREF(entry);
  const char *version_text = version_bytes == Py_None ? NULL : PyBytes_AsString(version_bytes);
  bangui_probe_report report = {0, 0.0, 0};
  char *effects_json = NULL;
  bangui_result code = probe(address, online == Py_True, version_text, jails, now_us, &report, &effects_json);
  PyObject *result = NULL;
  if (code != BANGUI_RESULT_OK) {
    result = Py_None; /* nothing changed: the JSON path reports the error */
    Py_INCREF(result);
  } else if (effects_json != NULL) {
    result = PyUnicode_FromString(effects_json); /* a transition: its effects, for Python to parse */
    bangui_string_free(effects_json);
  } else {
    /* The steady state: a copy of the library's effects for these arguments. */
    PyObject *copy = PyDict_Copy(PyTuple_GetItem(entry, 1));
    PyObject *inner = copy == NULL ? NULL : PyDict_GetItemWithError(copy, nested);
    PyObject *inner_copy = inner == NULL ? NULL : PyDict_Copy(inner);
    if (inner_copy != NULL && PyDict_SetItem(copy, nested, inner_copy) == 0) {
      result = PyList_New(1);
      if (result != NULL) {
        Py_INCREF(copy);
        PyList_SetItem(result, 0, copy); /* steals the new reference */
      }
    } else if (inner == NULL && copy != NULL && !PyErr_Occurred()) {
      PyErr_SetString(PyExc_RuntimeError, "bangui_state: a cached steady effect lost its nested dict");
    }
    Py_XDECREF(inner_copy);
    Py_XDECREF(copy);
  }
  Py_DECREF(entry);
  return result;

not_taken:
  if (PyErr_Occurred()) PyErr_Clear(); /* e.g. an unhashable key's lookup: the JSON path says what is wrong */
  Py_RETURN_NONE;
}

/* health_probe(machine_address, online, version, active_jails, now, min_us, max_us) -> int | tuple | None
 *
 * Machine.health_probe's arguments as they are: `online` True or False,
 * `version` None or an exact str (without NUL or lone surrogate: a C string),
 * `active_jails` an exact int in [0, 2**64), `now` as now_micros() takes it.
 * Returns the revision (an int) for a steady probe (only
 * health_check_complete logged: no effects JSON); for any other outcome, the
 * tuple (code, logs, seconds_since_activation, revision, effects JSON or
 * None), code not 0 being an error, which changed nothing and whose message
 * is this thread's last error, for the caller to read at once; None: not
 * taken, nothing done (an argument the Python path refuses or converts, or a
 * closed machine). */
static PyObject *health_probe(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
  (void)module;
  void *address;
  int found = machine_of(args, nargs, 7, "health_probe takes 7 arguments", &address);
  if (found <= 0) {
    if (found < 0) return NULL;
    Py_RETURN_NONE; /* a closed machine: the Python path raises */
  }
  PyObject *online = args[1], *version = args[2], *active_jails = args[3];
  if ((online != Py_True && online != Py_False) || !PyLong_CheckExact(active_jails)) Py_RETURN_NONE;
  const char *version_text = NULL;
  if (version != Py_None) {
    if (!PyUnicode_CheckExact(version)) Py_RETURN_NONE;
    Py_ssize_t size;
    /* Borrowed from the str (kept alive by the caller while the GIL is released). */
    version_text = PyUnicode_AsUTF8AndSize(version, &size);
    if (version_text == NULL || (size_t)size != strlen(version_text)) goto not_taken; /* a lone surrogate, a NUL */
  }
  uint64_t jails = PyLong_AsUnsignedLongLong(active_jails);
  if (jails == (uint64_t)-1 && PyErr_Occurred()) goto not_taken; /* negative or 2**64 and more */
  int64_t now_us;
  if (!now_micros(args[4], PyLong_AsLongLong(args[5]), PyLong_AsLongLong(args[6]), &now_us)) goto not_taken;
  bangui_probe_report report = {0, 0.0, 0};
  char *effects_json = NULL;
  bangui_result code = probe(address, online == Py_True, version_text, jails, now_us, &report, &effects_json);
  if (code == BANGUI_RESULT_OK && effects_json == NULL && report.logs == BANGUI_LOG_HEALTH_CHECK_COMPLETE) {
    return PyLong_FromUnsignedLongLong(report.revision);
  }
  PyObject *effects = Py_None;
  if (effects_json != NULL) {
    effects = PyUnicode_FromString(effects_json);
    bangui_string_free(effects_json);
    if (effects == NULL) return NULL;
  } else {
    Py_INCREF(effects);
  }
  return Py_BuildValue("(iIdKN)", (int)code, (unsigned int)report.logs, report.seconds_since_activation,
                       (unsigned long long)report.revision, effects);

not_taken:
  if (PyErr_Occurred()) PyErr_Clear(); /* the Python path says what is wrong */
  Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"step_probe", (PyCFunction)(void (*)(void))step_probe, METH_FASTCALL,
     "step_probe(machine_address, event, now, entries, min_us, max_us) -> list | str | None"},
    {"health_probe", (PyCFunction)(void (*)(void))health_probe, METH_FASTCALL,
     "health_probe(machine_address, online, version, active_jails, now, min_us, max_us) -> int | tuple | None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "bangui_state._speedups",
    "Machine.step's and Machine.health_probe's health-probe fast paths (conversion only; see _speedups.c).", -1,
    methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__speedups(void) {
  PyObject *datetime = PyImport_ImportModule("datetime");
  if (datetime == NULL) return NULL;
  datetime_type = PyObject_GetAttrString(datetime, "datetime");
  PyObject *timezone = PyObject_GetAttrString(datetime, "timezone");
  Py_DECREF(datetime);
  utc = timezone == NULL ? NULL : PyObject_GetAttrString(timezone, "utc");
  Py_XDECREF(timezone);
  epoch = utc == NULL ? NULL : PyObject_CallFunction(datetime_type, "iiiiiiiO", 1970, 1, 1, 0, 0, 0, 0, utc);
  if (datetime_type == NULL || utc == NULL || epoch == NULL) return NULL;
  name_tzinfo = PyUnicode_InternFromString("tzinfo");
  name_days = PyUnicode_InternFromString("days");
  name_seconds = PyUnicode_InternFromString("seconds");
  name_microseconds = PyUnicode_InternFromString("microseconds");
  if (!name_tzinfo || !name_days || !name_seconds || !name_microseconds) return NULL;
  key_type = PyUnicode_InternFromString("type");
  key_status = PyUnicode_InternFromString("status");
  key_online = PyUnicode_InternFromString("online");
  key_version = PyUnicode_InternFromString("version");
  key_active_jails = PyUnicode_InternFromString("active_jails");
  probe_type = PyUnicode_InternFromString("health_probe_completed");
  if (!key_type || !key_status || !key_online || !key_version || !key_active_jails || !probe_type) return NULL;
  return PyModule_Create(&module_def);
}
