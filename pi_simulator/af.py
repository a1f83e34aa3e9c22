"""The simulated Asset Framework: one asset server with one database whose element hierarchy
(plants -> process units -> equipment) is derived from the archive's points, so every PI point is the
data reference of exactly one element attribute, and an archive of 30,000 points has about 13,000
elements.

Element templates carry categories, static attributes (manufacturer, model, rated capacity with its
units, install date) and PI Point attributes; equipment templates derive from one base template, as
real AF models do, so a ``templateName`` filter on the base finds them all. Where a unit lacks a point
for a template's attribute, the attribute still exists with a PI Point data reference to a tag that
does not exist (real AF databases have such broken references; the connector must report them).

The hierarchy changes on a schedule (:class:`AFChanges`: an element renamed or moved, an attribute
re-pointed to another tag); :meth:`AssetModel.state` answers as of any instant, so the server and the
ground truth agree on what was visible when. Everything is derived from the seed: the same model in
every process.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from dataclasses import dataclass

import numpy as np

from .model import PLANTS, Archive, stable_int

SERVER_NAME = "PIAFSIM"
DATABASE_NAME = "Operations"
COUNTRIES = {
    "SYD": ("Australia", "Australia/Sydney"),
    "ROT": ("Netherlands", "Europe/Amsterdam"),
    "HOU": ("United States", "America/Chicago"),
    "OSA": ("Japan", "Asia/Tokyo"),
    "CAL": ("Canada", "America/Edmonton"),
}
MANUFACTURERS = ("Sulzer", "KSB", "Grundfos", "Flowserve", "Endress+Hauser", "Alfa Laval")


@dataclass(frozen=True)
class AttributeTemplate:
    name: str
    type: str  # AF value type as the PI Web API names it: Double, Int32, String, DateTime, EnumerationValue
    units: str = ""  # abbreviation
    sensor: str = ""  # PI Point data reference: the SensorKind code of the tag it points to
    categories: tuple[str, ...] = ()

    @property
    def data_reference(self) -> str:
        return "PI Point" if self.sensor else ""


@dataclass(frozen=True)
class ElementTemplate:
    name: str
    categories: tuple[str, ...]
    attributes: tuple[AttributeTemplate, ...]
    base: str = ""
    prefix: str = ""  # equipment names: <prefix>-<unit number>


_EQUIPMENT = (
    AttributeTemplate("Manufacturer", "String", categories=("Nameplate",)),
    AttributeTemplate("Model", "String", categories=("Nameplate",)),
    AttributeTemplate("Serial Number", "String", categories=("Nameplate",)),
    AttributeTemplate("Install Date", "DateTime", categories=("Nameplate",)),
)
TEMPLATES: dict[str, ElementTemplate] = {
    t.name: t
    for t in (
        ElementTemplate(
            "Plant", ("Site",), (AttributeTemplate("Country", "String"), AttributeTemplate("Time Zone", "String"))
        ),
        ElementTemplate("Process Unit", ("Process Unit",), (AttributeTemplate("Design Capacity", "Double", "t/d"),)),
        ElementTemplate("Equipment", ("Equipment",), _EQUIPMENT),
        ElementTemplate(
            "Centrifugal Pump",
            ("Equipment", "Rotating Equipment"),
            _EQUIPMENT
            + (
                AttributeTemplate("Rated Flow", "Double", "m3/h", categories=("Design",)),
                AttributeTemplate("Discharge Flow", "Double", "m3/h", "FT", ("Process",)),
                AttributeTemplate("Discharge Pressure", "Double", "kPa", "PT", ("Process",)),
                AttributeTemplate("Bearing Vibration", "Single", "mm/s", "VT", ("Condition",)),
                AttributeTemplate("Status", "EnumerationValue", "", "PS", ("Process",)),
            ),
            base="Equipment",
            prefix="P",
        ),
        ElementTemplate(
            "Storage Tank",
            ("Equipment", "Static Equipment"),
            _EQUIPMENT
            + (
                AttributeTemplate("Volume", "Double", "m3", categories=("Design",)),
                AttributeTemplate("Level", "Single", "%", "LT", ("Process",)),
                AttributeTemplate("Temperature", "Single", "°C", "TT", ("Process",)),
                AttributeTemplate("Inlet Valve", "EnumerationValue", "", "XV", ("Process",)),
            ),
            base="Equipment",
            prefix="TK",
        ),
        ElementTemplate(
            "Packaging Line",
            ("Equipment", "Production"),
            _EQUIPMENT
            + (
                AttributeTemplate("Rated Output", "Double", "units/h", categories=("Design",)),
                AttributeTemplate("Batch Counter", "Int32", "count", "CNT", ("Process",)),
                AttributeTemplate("Product", "String", "", "PRD", ("Process",)),
            ),
            base="Equipment",
            prefix="L",
        ),
    )
}
EQUIPMENT_TEMPLATES = tuple(t for t in TEMPLATES.values() if t.base == "Equipment")


def derives_from(template: str, wanted: str) -> bool:
    """``templateName`` filters include derived templates."""
    while template:
        if template.upper() == wanted.upper():
            return True
        template = TEMPLATES[template].base if template in TEMPLATES else ""
    return False


@dataclass(frozen=True)
class Element:
    id: uuid.UUID
    name: str
    parent: uuid.UUID | None
    template: str
    description: str

    @property
    def categories(self) -> tuple[str, ...]:
        return TEMPLATES[self.template].categories


@dataclass(frozen=True)
class Attribute:
    id: uuid.UUID
    element: uuid.UUID
    template: AttributeTemplate
    tag: str | None  # the PI point a PI Point data reference names (it may not exist)
    value: object = None  # a static attribute's value

    @property
    def name(self) -> str:
        return self.template.name


@dataclass(frozen=True)
class AFChanges:
    r"""Changes to the hierarchy at given instants (ticks). Elements and attributes are named by their
    path in the database as first built (``Sydney\Unit 001\P-001``, ``...\P-001|Discharge Flow``)."""

    renames: tuple[tuple[str, int, str], ...] = ()  # (element, ticks, new name)
    moves: tuple[tuple[str, int, str], ...] = ()  # (element, ticks, new parent element)
    repoints: tuple[tuple[str, int, str], ...] = ()  # (attribute, ticks, PI point it references from then)


@dataclass(frozen=True)
class AFState:
    """The hierarchy as of one instant."""

    elements: dict[uuid.UUID, Element]
    attributes: dict[uuid.UUID, Attribute]
    children: dict[uuid.UUID | None, list[uuid.UUID]]  # sorted by name, case-insensitively
    paths: dict[uuid.UUID, str]  # relative to the database: Sydney\Unit 001\P-001

    def attributes_of(self, element: uuid.UUID) -> list[Attribute]:
        return [a for a in self.attributes.values() if a.element == element]

    def descendants(self, root: uuid.UUID | None) -> list[uuid.UUID]:
        out, stack = [], list(reversed(self.children.get(root, [])))
        while stack:
            e = stack.pop()
            out.append(e)
            stack.extend(reversed(self.children.get(e, [])))
        return out


class AssetModel:
    """The AF server and database of an :class:`Archive`."""

    def __init__(
        self,
        archive: Archive,
        changes: AFChanges | None = None,
        server_name: str = SERVER_NAME,
        database_name: str = DATABASE_NAME,
    ):
        self.archive = archive
        self.seed = archive.seed
        self.server_name, self.database_name = server_name, database_name
        self.server_id = self.guid("afserver", server_name)
        self.database_id = self.guid("afdatabase", database_name)
        self.changes = changes or AFChanges()
        self.base_elements: dict[uuid.UUID, Element] = {}
        self.base_attributes: dict[uuid.UUID, Attribute] = {}
        self._build()
        self.schedule(self.changes)

    def schedule(self, changes: AFChanges) -> None:
        """Make ``changes`` the hierarchy's changes from now on (a server may be serving it: a test schedules
        a change relative to what a running pipeline has read). Snapshots already answered are not redone;
        answers for instants before a change stay what they were."""
        base = self._state(self.base_elements, self.base_attributes)
        by_path = {p.upper(): e for e, p in base.paths.items()}
        attr_by_path = {f"{base.paths[a.element]}|{a.name}".upper(): a.id for a in base.attributes.values()}

        def find(table: dict, what: str, path: str) -> uuid.UUID:
            if path.upper() not in table:
                raise ValueError(f"AFChanges names an unknown {what}: {path!r}")
            return table[path.upper()]

        self.changes = changes
        self._events = sorted(
            [(t, "rename", find(by_path, "element", p), name) for p, t, name in changes.renames]
            + [
                (t, "move", find(by_path, "element", p), find(by_path, "element", parent))
                for p, t, parent in changes.moves
            ]
            + [(t, "repoint", find(attr_by_path, "attribute", p), tag) for p, t, tag in changes.repoints],
            key=lambda e: e[0],
        )
        self._cache: dict[int, AFState] = {}

    def guid(self, *parts: object) -> uuid.UUID:
        """The AF GUID of the object named by ``parts``, the same in every process (see ``stable_int``)."""
        return uuid.UUID(
            int=(stable_int("af", self.seed, *parts) << 64 | stable_int("af2", self.seed, *parts)) & ((1 << 128) - 1)
        )

    def template_id(self, name: str) -> uuid.UUID:
        return self.guid("template", name)

    # ---- the hierarchy as first built ----------------------------------------------------------
    def _add(
        self,
        name: str,
        parent: uuid.UUID | None,
        template: str,
        description: str,
        values: dict[str, object],
        tags: dict[str, str | None],
    ) -> uuid.UUID:
        key = (parent, name)
        eid = self.guid("element", *key)
        self.base_elements[eid] = Element(eid, name, parent, template, description)
        for at in TEMPLATES[template].attributes:
            aid = self.guid("attribute", eid, at.name)
            self.base_attributes[aid] = Attribute(
                aid, eid, at, tags.get(at.sensor) if at.sensor else None, None if at.sensor else values.get(at.name)
            )
        return eid

    def _build(self) -> None:
        units: dict[str, dict[int, dict[str, str]]] = {}
        for p in self.archive.points:
            unit = int(p.name.split(".")[1][1:])
            units.setdefault(p.plant, {}).setdefault(unit, {})[p.kind.code] = p.name
        for code, plant_name in PLANTS:
            if code not in units:
                continue
            country, zone = COUNTRIES[code]
            plant = self._add(
                plant_name, None, "Plant", f"{plant_name} site", {"Country": country, "Time Zone": zone}, {}
            )
            for unit, tags in sorted(units[code].items()):
                rng = np.random.default_rng([self.seed, 31337, stable_int(code, unit) % 2**32])
                unit_id = self._add(
                    f"Unit {unit:03d}",
                    plant,
                    "Process Unit",
                    f"{plant_name} process unit {unit}",
                    {"Design Capacity": float(round(rng.uniform(200, 2000), 1))},
                    {},
                )
                for template in EQUIPMENT_TEMPLATES:
                    sensors = [a.sensor for a in template.attributes if a.sensor]
                    present = {s: tags.get(s) for s in sensors}
                    if not any(present.values()):
                        continue
                    # a missing point still gets its attribute, referencing a tag that does not exist
                    refs = {s: t or f"{code}.U{unit:03d}.{s}-MISSING.PV" for s, t in present.items()}
                    make = MANUFACTURERS[int(rng.integers(len(MANUFACTURERS)))]
                    installed = dt.datetime(2005, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=int(rng.integers(0, 6500)))
                    values = {
                        "Manufacturer": make,
                        "Model": f"{make[:3].upper()}-{int(rng.integers(100, 999))}",
                        "Serial Number": f"SN{int(rng.integers(10**7, 10**8))}",
                        "Install Date": installed,
                        "Rated Flow": float(round(rng.uniform(50, 400), 1)),
                        "Volume": float(round(rng.uniform(20, 900), 1)),
                        "Rated Output": float(round(rng.uniform(600, 6000), 0)),
                    }
                    self._add(
                        f"{template.prefix}-{unit:03d}",
                        unit_id,
                        template.name,
                        f"{template.name} of {plant_name} unit {unit}",
                        values,
                        refs,
                    )

    @staticmethod
    def _state(elements: dict[uuid.UUID, Element], attributes: dict[uuid.UUID, Attribute]) -> AFState:
        children: dict[uuid.UUID | None, list[uuid.UUID]] = {}
        for e in elements.values():
            children.setdefault(e.parent, []).append(e.id)
        for ids in children.values():
            ids.sort(key=lambda i: elements[i].name.upper())
        paths: dict[uuid.UUID, str] = {}

        def walk(parent: uuid.UUID | None, prefix: str) -> None:
            for e in children.get(parent, []):
                paths[e] = prefix + elements[e].name
                walk(e, paths[e] + "\\")

        walk(None, "")
        return AFState(elements, attributes, children, paths)

    # ---- as of an instant ----------------------------------------------------------------------
    def state(self, ticks: int) -> AFState:
        """The hierarchy with every change made at or before ``ticks``."""
        applied = sum(1 for e in self._events if e[0] <= ticks)
        cached = self._cache.get(applied)
        if cached is not None:
            return cached
        elements, attributes = dict(self.base_elements), dict(self.base_attributes)
        for _, kind, target, arg in self._events[:applied]:
            if kind == "rename":
                elements[target] = dataclasses.replace(elements[target], name=arg)
            elif kind == "move":
                elements[target] = dataclasses.replace(elements[target], parent=arg)
            else:
                attributes[target] = dataclasses.replace(attributes[target], tag=arg)
        state = self._cache[applied] = self._state(elements, attributes)
        return state

    def full_path(self, relative: str) -> str:
        return f"\\\\{self.server_name}\\{self.database_name}\\{relative}"
