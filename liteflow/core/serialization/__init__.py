"""Turn user values into JSON-safe documents and back, so durable providers never need pickle.

Durable providers (SQLite, MongoDB) store workflow data, step persistence data, event data
and execution-pointer context items as JSON. `JsonSerializer` keeps whatever is
already JSON as plain JSON, so stored rows stay readable and queryable, and tags the rest.

Threat model: whoever can write the store is not trusted to run code. Loading never
imports a module, never looks a stored name up in a module, and never runs a class's own
code; a stored type resolves only to a class the application made known
(`register_type`, or the package of a registered workflow). The same limits on depth,
size and items apply when storing and when loading.

Tag scheme
----------
Stored as themselves:

* ``None``, ``bool``, ``str``, finite ``float``, and ``int`` within the signed 64-bit range
  (the most BSON can hold);
* ``list``, as a JSON array;
* ``dict`` whose keys are all ``str`` and none starts with ``"$"``, as a JSON object.

Everything else is a JSON object with a ``"$type"`` key. A plain object never has one,
because dicts with ``$``-prefixed keys are themselves tagged (MongoDB also rejects such
field names, so this keeps documents BSON-friendly):

    $type        other keys
    -----------  ----------------------------------------------------------------------
    int          value: decimal string                 (ints outside the 64-bit range)
    float        value: "nan" | "inf" | "-inf"          (non-finite floats only)
    complex      real, imag: numbers (tagged floats when not finite)
    tuple        items: [doc, ...]
    set          items: [doc, ...]
    frozenset    items: [doc, ...]
    dict         items: [[key doc, value doc], ...]     (non-str or "$"-prefixed keys)
    bytes        value: base64 string
    bytearray    value: base64 string
    datetime     value: ISO 8601 with its offset; optional zone: IANA key, tzname: name
                 of a fixed offset, fold: 1
    date         value: ISO 8601
    time         value: ISO 8601 (wall time only when zoned); optional zone, tzname, fold
    timedelta    days, seconds, microseconds: ints
    decimal      value: str(Decimal)
    uuid         value: canonical string
    enum         class: stored name, value: doc of the member's value
    namedtuple   class, items: [doc, ...]; optional state
    dataclass    class, state: {attribute: doc, ...}
    object       class, state: {attribute: doc, ...}
    ref          id: n, the n-th list, dict, set, bytearray or object of the document
                 (counted where each starts), written again

A class's stored name is the one given to `register_type`, else ``"module:QualName"``.
For example ``{"$type": "datetime", "value": "2026-01-02T03:04:05.123456+00:00"}`` or
``{"$type": "object", "class": "myapp.models:MyData", "state": {"name": "x"}}``.
"""

from ._base import Serializer
from ._json import JsonSerializer
from ._known import register_type
from ._pickle import PickleSerializer

__all__ = ["DEFAULT_SERIALIZER", "JsonSerializer", "PickleSerializer", "Serializer", "register_type"]

DEFAULT_SERIALIZER: Serializer = JsonSerializer()
