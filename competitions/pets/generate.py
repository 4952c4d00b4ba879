"""The offline Pets: 37 breeds drawn from a seed, in the layout of fastai's URLs.PETS.

`write(folder, per_breed, pixels, seed)` writes `images/<breed>_<n>.jpg`, n from 1, cat
breeds capitalised, as the Oxford-IIIT Pet dataset names its photographs. Each breed is a
recipe (`Breed`, a row of `breeds.txt`): a body plan (body length, legs, head, muzzle,
ears, tail), coat colours with variants, a pattern (spots, tabby stripes, ticking,
patches, colour points, ...), a fur (smooth, long, fluffy, wiry, hairless) and markings
(white chest or paws, dark mask).
Every image draws one animal from its recipe, with its own proportions and colours, pose
(side view or face), facing, tilt, scale and place, background (room, grass, sofa,
clutter), lighting, blur, noise and JPEG quality. No single cue names a breed: colour
families are shared (black: Bombay, newfoundland, scottish_terrier; white: samoyed,
great_pyrenees; fawn: pug, boxer, chihuahua, leonberger), so telling them apart takes
shape and texture, which a colour histogram cannot see.

Some breeds are alike on purpose, as in the photographs: the confusions the course
shows (lesson 1, book chapter 5) are built in. `ALIKE` lists them.

Image n of a breed depends only on (seed, breed, n): a larger folder extends a smaller one.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

COLOURS = {  # sRGB in 0..1 of the coats, from the breed standards' names
    "black": (0.11, 0.10, 0.10),
    "white": (0.93, 0.92, 0.89),
    "cream": (0.90, 0.83, 0.68),
    "fawn": (0.80, 0.62, 0.40),
    "gold": (0.83, 0.62, 0.27),
    "orange": (0.86, 0.50, 0.19),
    "red": (0.68, 0.34, 0.16),
    "ruddy": (0.66, 0.40, 0.22),
    "brown": (0.45, 0.29, 0.17),
    "chocolate": (0.30, 0.19, 0.13),
    "liver": (0.40, 0.21, 0.15),
    "tan": (0.74, 0.49, 0.25),
    "blue": (0.47, 0.50, 0.55),
    "grey": (0.58, 0.58, 0.57),
    "silver": (0.76, 0.76, 0.77),
    "seal": (0.25, 0.18, 0.14),
    "pink": (0.86, 0.66, 0.60),
    "wheaten": (0.86, 0.76, 0.55),
    "steel": (0.32, 0.36, 0.44),
    "bronze": (0.66, 0.48, 0.29),
}
EYES = {
    "blue": (0.25, 0.5, 0.9),
    "green": (0.45, 0.7, 0.3),
    "copper": (0.8, 0.5, 0.15),
    "dark": (0.18, 0.11, 0.07),
}


@dataclass(frozen=True)
class Breed:
    """A breed's recipe. Lengths are in body heights (side view) or head radii (face)."""

    name: str
    coats: tuple[tuple[str, str], ...]  # (base, second) colour names; the first is usual
    pattern: str = "solid"  # see _coat
    fur: str = "smooth"  # smooth, long, fluffy, wiry, hairless
    ears: tuple[str, float] = ("up", 0.6)  # up (size), fold (length) or rose (size)
    tail: str = "thin"  # thin, plume, curled, stub, low
    body: float = 1.6  # length / height
    legs: float = 0.6  # leg length / body height
    head: float = 0.55  # head radius ~ 0.6 * head body heights
    muzzle: float = 0.3  # 0 flat (pug, Persian) to 1 long (setter)
    marks: tuple[str, ...] = ()  # white_chest, white_paws, mask, bib
    eyes: str = "dark"


def read_breeds(path: Path) -> list[Breed]:
    """The breeds of a table like `breeds.txt`, sorted by name (the class order)."""
    lines = [x.split() for x in path.read_text().splitlines() if x.strip() and x[0] != "#"]
    head, *rows = lines
    breeds = []
    for row in rows:
        r = dict(zip(head, row, strict=True))
        coats = [tuple(c.split("/")) if "/" in c else (c, c) for c in r["coats"].split(",")]
        ears, size = r["ears"].split(":")
        breeds.append(
            Breed(
                r["breed"],
                tuple(coats),
                pattern=r["pattern"],
                fur=r["fur"],
                ears=(ears, float(size)),
                tail=r["tail"],
                **{k: float(r[k]) for k in ("body", "legs", "head", "muzzle")},
                marks=() if r["marks"] == "-" else tuple(r["marks"].split(",")),
                eyes=r["eyes"],
            )
        )
    return sorted(breeds, key=lambda b: b.name)


BREEDS = read_breeds(Path(__file__).with_name("breeds.txt"))
BY_NAME = {b.name: b for b in BREEDS}
NAMES = [b.name for b in BREEDS]
# the pairs alike on purpose, each a pair the course's confusion matrix shows
ALIKE = (
    ("american_pit_bull_terrier", "staffordshire_bull_terrier"),
    ("Ragdoll", "Birman"),
    ("Siamese", "Birman"),
    ("Bengal", "Egyptian_Mau"),
    ("american_pit_bull_terrier", "american_bulldog"),
    ("British_Shorthair", "Russian_Blue"),
)
FACE_SHARE = 0.2  # portraits; the rest are side views
MAIN_COAT = 0.8  # the share of a breed's first coat; its other coats share the rest
VERSION = 4  # bump when the pictures change: the offline data is generated again


def is_cat(name: str) -> bool:
    """The dataset's own rule (and lesson 1's): cat breeds are capitalised."""
    return name[0].isupper()


# --- small drawing helpers on coordinate grids -----------------------------------------


def _ellipse(u, v, cu, cv, a, b):
    return ((u - cu) / a) ** 2 + ((v - cv) / b) ** 2 <= 1


def _triangle(u, v, p1, p2, p3):
    def side(a, b):
        return (u - b[0]) * (a[1] - b[1]) - (a[0] - b[0]) * (v - b[1])

    d1, d2, d3 = side(p1, p2), side(p2, p3), side(p3, p1)
    neg = (d1 < 0) | (d2 < 0) | (d3 < 0)
    pos = (d1 > 0) | (d2 > 0) | (d3 > 0)
    return ~(neg & pos)


def _tube(u, v, points, r0, r1):
    """Inside a tube along the polyline through points, its radius going from r0 to r1."""
    pts = np.asarray(points, dtype=np.float32)
    seg = np.diff(pts, axis=0)
    length = np.r_[0, np.cumsum(np.hypot(seg[:, 0], seg[:, 1]))]
    total = max(float(length[-1]), 1e-9)
    inside = np.zeros(u.shape, dtype=bool)
    for (au, av), (du, dv), l0, l1 in zip(pts[:-1], seg, length[:-1], length[1:], strict=True):
        t = np.clip(((u - au) * du + (v - av) * dv) / max(du * du + dv * dv, 1e-12), 0, 1)
        r = r0 + (r1 - r0) * (l0 + t * (l1 - l0)) / total
        inside |= (u - au - t * du) ** 2 + (v - av - t * dv) ** 2 <= r * r
    return inside


def _bezier(p0, p1, p2, n=8):
    t = np.linspace(0, 1, n)[:, None]
    p0, p1, p2 = (np.asarray(p, dtype=float) for p in (p0, p1, p2))
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t**2 * p2


def _noise(rng, h, w, cells_y, cells_x=None):
    """Smooth noise of unit spread: random values on a coarse grid, upsampled bicubically."""
    from PIL import Image

    cells_x = cells_x or cells_y
    grid = rng.standard_normal((max(2, int(cells_y)), max(2, int(cells_x)))).astype(np.float32)
    img = Image.fromarray(grid, mode="F").resize((w, h), Image.BICUBIC)
    out = np.asarray(img)
    return (out - out.mean()) / (out.std() + 1e-6)


def _jitter(rng, colour, amount=0.06):
    c = np.asarray(colour, dtype=np.float32) * np.exp(rng.normal(0, amount))  # brightness
    return np.clip(c + rng.normal(0, amount / 2, 3), 0, 1)  # hue


def _paint(img, mask, colour, alpha=1.0):
    """Paints colour (one colour, or an image) where mask is; a float mask is a soft edge."""
    colour = np.asarray(colour, dtype=np.float32)
    if mask.dtype == bool and alpha == 1.0:  # the common case, at a fraction of the cost
        img[mask] = colour[mask] if colour.ndim == 3 else colour
        return
    m = (mask.astype(np.float32) * alpha)[..., None]
    img += m * (colour - img)


def _soft(mask, radius=1.5):
    """A mask with blurred edges, as floats in 0..1."""
    from PIL import Image, ImageFilter

    img = Image.fromarray((mask * 255).astype(np.uint8))
    return np.asarray(img.filter(ImageFilter.GaussianBlur(radius)), dtype=np.float32) / 255


# --- the scene ------------------------------------------------------------------------

HOUSE = [
    (0.85, 0.82, 0.75),
    (0.6, 0.45, 0.3),
    (0.35, 0.25, 0.18),
    (0.9, 0.9, 0.9),
    (0.2, 0.2, 0.22),
    (0.55, 0.6, 0.65),
    (0.7, 0.3, 0.25),
    (0.3, 0.4, 0.6),
    (0.75, 0.7, 0.5),
    (0.45, 0.5, 0.35),
]


def _any_colour(rng):
    if rng.random() < 0.7:
        return _jitter(rng, HOUSE[rng.integers(len(HOUSE))], 0.12)
    grey = rng.uniform(0.1, 0.9)  # anything, but muted as in most rooms
    return (0.5 * grey + 0.5 * rng.uniform(0.05, 0.95, 3)).astype(np.float32)


def _background(rng, h, w, xs, ys):
    kind = rng.choice(["room", "grass", "sofa", "clutter", "plain"])
    img = np.empty((h, w, 3), dtype=np.float32)
    a, b = _any_colour(rng), _any_colour(rng)
    if kind == "grass":
        a = _jitter(rng, (0.3, 0.5, 0.2), 0.15)
        b = a * rng.uniform(0.5, 0.8)
    t = np.clip(ys / h + 0.3 * rng.normal() * xs / w, 0, 1)[..., None]
    img[:] = a * (1 - t) + b * t
    if kind == "room":  # wall above, floor below with boards
        floor = ys > h * rng.uniform(0.45, 0.8)
        _paint(img, floor, _any_colour(rng))
        boards = (np.sin(xs / w * rng.uniform(8, 30)) > 0.9) & floor
        _paint(img, boards, (0, 0, 0), 0.2)
    elif kind == "grass":
        img *= 1 + 0.25 * _noise(rng, h, w, h // 2, w // 6)[..., None]
    elif kind == "sofa":
        img *= 1 + 0.12 * _noise(rng, h, w, 4)[..., None]
        for _ in range(rng.integers(1, 3)):
            cu, cv = rng.uniform(0, w), rng.uniform(0, h)
            _paint(
                img, _ellipse(xs, ys, cu, cv, w * rng.uniform(0.2, 0.5), h * 0.2), _any_colour(rng)
            )
    elif kind == "clutter":
        for _ in range(rng.integers(2, 5)):
            cu, cv, su, sv = rng.uniform(0, w), rng.uniform(0, h), *rng.uniform(0.05, 0.3, 2)
            shape = (
                _ellipse(xs, ys, cu, cv, su * w, sv * h)
                if rng.random() < 0.5
                else (abs(xs - cu) < su * w) & (abs(ys - cv) < sv * h)
            )
            _paint(img, shape, _any_colour(rng), 0.6)
    img *= 1 + rng.uniform(0.02, 0.08) * _noise(rng, h, w, h // 3)[..., None]
    if rng.random() < 0.6:  # the camera focused on the animal
        return _blur(img, rng.uniform(0.5, 2.0) * h / 64)
    return img


def _blur(img, radius):
    from PIL import Image, ImageFilter

    pil = Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8))
    return np.asarray(pil.filter(ImageFilter.GaussianBlur(radius)), dtype=np.float32) / 255


def _shape(rng, breed: Breed) -> Breed:
    """One animal's proportions: the breed's, each a little off."""

    def j(x, s=0.08):
        return x * float(np.exp(rng.normal(0, s)))

    ears = (breed.ears[0], j(breed.ears[1]))
    return replace(
        breed,
        body=j(breed.body, 0.06),
        legs=j(breed.legs),
        head=j(breed.head, 0.06),
        muzzle=max(0.0, breed.muzzle + rng.normal(0, 0.05)),
        ears=ears,
    )


def _box(g: Breed, face: bool) -> tuple[tuple[float, float], tuple[float, float]]:
    """The animal's extent in its own units: (u from, to), (v from, to)."""
    kind, size = g.ears
    ear = (1.0 + 1.1 * size) if kind == "up" else 1.1
    if face:  # the head and ears, the chest cut by the frame
        return (-1.3, 1.3), (-0.95 - size if kind == "up" else -1.0, 1.45)
    a_body, r = g.body / 2, 0.6 * g.head
    hu, hv = a_body * 0.8 + r * 0.45, -0.55 - r * 0.3
    front = hu + r * (0.6 + 0.45 * g.muzzle) + r * (0.3 + 0.5 * g.muzzle)
    back = -a_body * 0.92 - {"thin": 0.6, "plume": 0.65, "low": 0.45}.get(g.tail, 0.2)
    top = min(hv - ear * r, -0.95 if g.tail == "curled" else -0.5)
    return (back, front), (top, 0.5 + g.legs)


def _side_parts(u, v, g: Breed, rng):
    """Masks of a side view facing +u; the body is one unit high, centred at 0."""
    a_body = g.body / 2
    r = 0.6 * g.head
    hu, hv = a_body * 0.8 + r * 0.45, -0.55 - r * 0.3
    p = {"body": _ellipse(u, v, 0, 0, a_body, 0.5)}
    p["neck"] = _tube(u, v, [(a_body * 0.55, -0.1), (hu, hv)], 0.75 * r, 0.75 * r)
    leg_w = 0.09 * (1.3 if g.legs < 0.5 else 1.0)
    foot = 0.45 + g.legs
    legs = np.zeros(u.shape, dtype=bool)
    for x in (0.62, 0.4, -0.45, -0.66):
        legs |= _tube(u, v, [(x * a_body, 0.1), (x * a_body + 0.03, foot)], leg_w, leg_w * 0.9)
    p["legs"] = legs
    p["paws"] = legs & (v > foot - 0.14)
    p["head"] = _ellipse(u, v, hu, hv, r * 1.05, r)
    m = g.muzzle
    mu, mv, ma, mb = hu + r * (0.6 + 0.45 * m), hv + r * 0.3, r * (0.3 + 0.5 * m), r * 0.42
    p["muzzle"] = _ellipse(u, v, mu, mv, ma, mb)
    kind, size = g.ears
    if kind == "up":
        base = 0.55 + 0.25 * min(size, 1.2)
        ear = _triangle(
            u,
            v,
            (hu - base * r, hv - 0.55 * r),
            (hu + 0.25 * r, hv - 0.95 * r),
            (hu - 0.35 * r, hv - (1 + 1.1 * size) * r),
        )
    elif kind == "fold":
        ear = _ellipse(
            u, v, hu - 0.3 * r, hv + (0.05 + 0.45 * size) * r, 0.33 * r, (0.45 + 0.5 * size) * r
        )
    else:  # rose: small, folded back
        ear = _triangle(
            u,
            v,
            (hu - 0.45 * r, hv - 0.7 * r),
            (hu + 0.1 * r, hv - 0.92 * r),
            (hu - (0.6 + 0.5 * size) * r, hv - (1.0 + 0.4 * size) * r),
        )
    p["ears"] = ear
    t0 = (-a_body * 0.92, -0.15)
    if g.tail == "curled":
        angles = np.linspace(math.pi * 0.95, -math.pi * 0.35, 10)
        cu, cv, rr = -a_body * 0.62, -0.62, 0.3
        pts = [(cu + rr * math.cos(t), cv - rr * math.sin(t)) for t in angles]
        p["tail"] = _tube(u, v, pts, 0.1, 0.07)
    elif g.tail == "stub":
        p["tail"] = _tube(u, v, _bezier(t0, (t0[0] - 0.1, -0.25), (t0[0] - 0.15, -0.4)), 0.07, 0.06)
    elif g.tail == "low":
        p["tail"] = _tube(u, v, _bezier(t0, (t0[0] - 0.35, 0.1), (t0[0] - 0.4, 0.75)), 0.1, 0.07)
    else:  # thin (cats, terriers) or plume (a long-haired thin tail)
        length = 1.0 if g.fur != "wiry" else 0.5
        thick = 0.14 if g.tail == "plume" else 0.06
        pts = _bezier(t0, (t0[0] - 0.5 * length, 0.05), (t0[0] - 0.55 * length, -0.8 * length))
        p["tail"] = _tube(u, v, pts, thick, thick * 0.7)
    eye = (hu + 0.42 * r, hv - 0.2 * r)
    p["eye"] = _ellipse(u, v, *eye, 0.16 * r, 0.16 * r)
    p["pupil"] = _ellipse(u, v, eye[0] + 0.04 * r, eye[1], 0.07 * r, 0.1 * r)
    p["nose"] = _ellipse(u, v, mu + ma * 0.85, mv - mb * 0.45, 0.14 * r, 0.11 * r)
    trunk = p["body"] | p["neck"]
    back_line = -0.12 + 0.06 * _noise(rng, *u.shape, 3)
    p["back"] = trunk & (v < back_line) & (u < a_body * 0.7)
    p["chest"] = trunk & (u > a_body * 0.35) & (v > hv + r * 0.6) & (v > -0.35)
    p["belly"] = p["body"] & (v > 0.25)
    p["face"] = p["muzzle"] | _ellipse(u, v, *eye, 0.38 * r, 0.32 * r)
    p["cheeks"] = p["muzzle"] | _ellipse(u, v, hu + 0.3 * r, hv + 0.45 * r, 0.6 * r, 0.4 * r)
    p["blaze"] = p["head"] & (v < hv - 0.1 * r) & (np.abs(u - hu - 0.35 * r) < 0.15 * r)
    return p


def _face_parts(u, v, g: Breed, rng):
    """Masks of a portrait: the head one unit in radius, centred at 0, chest below."""
    wide = 1.0 + 0.3 * max(0.0, g.head - 0.55)
    p = {"head": _ellipse(u, v, 0, 0, 1.05 * wide, 1.0)}
    p["body"] = _ellipse(u, v, 0, 1.65, 1.25 * wide, 0.95)
    kind, size = g.ears
    ears = np.zeros(u.shape, dtype=bool)
    for s in (-1, 1):
        if kind == "up":
            base = 0.3 + 0.2 * min(size, 1.2)
            ears |= _triangle(
                u,
                v,
                (s * (0.95 - base), -0.8),
                (s * 0.95, -0.35),
                (s * (0.85 + 0.15 * size), -0.9 - 1.0 * size),
            )
        elif kind == "fold":
            ears |= _ellipse(u, v, s * 0.95 * wide, 0.05 + 0.4 * size, 0.32, 0.5 + 0.45 * size)
        else:
            ears |= _triangle(
                u, v, (s * 0.45, -0.85), (s * 0.9, -0.5), (s * (1.05 + 0.3 * size), -0.95)
            )
    p["ears"] = ears
    m = g.muzzle
    p["muzzle"] = _ellipse(u, v, 0, 0.42 + 0.12 * m, 0.42 + 0.1 * m, 0.3 + 0.22 * m)
    p["nose"] = _ellipse(u, v, 0, 0.22 + 0.15 * m, 0.15, 0.1)
    p["eye"] = _ellipse(u, v, -0.38, -0.12, 0.15, 0.13) | _ellipse(u, v, 0.38, -0.12, 0.15, 0.13)
    p["pupil"] = _ellipse(u, v, -0.38, -0.12, 0.06, 0.1) | _ellipse(u, v, 0.38, -0.12, 0.06, 0.1)
    p["chest"] = p["body"] & ~p["head"] & (np.abs(u) < 0.55) & (v < 1.4)
    p["belly"] = np.zeros(u.shape, dtype=bool)
    p["back"] = p["body"] & (np.abs(u) > 0.7)
    p["legs"] = p["body"] & (v > 2.0) & (np.abs(u) > 0.2) & (np.abs(u) < 0.8)
    p["paws"] = p["legs"] & (v > 2.3)
    p["tail"] = np.zeros(u.shape, dtype=bool)
    p["face"] = p["muzzle"] | _ellipse(u, v, -0.38, -0.1, 0.32, 0.27)
    p["face"] |= _ellipse(u, v, 0.38, -0.1, 0.32, 0.27)
    p["cheeks"] = p["muzzle"] | _ellipse(u, v, -0.5, 0.35, 0.4, 0.32)
    p["cheeks"] |= _ellipse(u, v, 0.5, 0.35, 0.4, 0.32)
    p["blaze"] = p["head"] & (np.abs(u) < 0.13) & (v < 0.2)
    return p


def _coat(rng, p, g: Breed, base, second, u, v, shape):
    """The animal's colours where its parts are: pattern, then markings."""
    h, w = shape
    img = np.empty((h, w, 3), dtype=np.float32)
    img[:] = base
    white = _jitter(rng, COLOURS["white"], 0.03)
    tan = _jitter(rng, COLOURS["tan"], 0.05)
    cream = _jitter(rng, COLOURS["cream"], 0.04)
    pat = g.pattern
    everything = p["body"] | p["head"] | p["legs"] | p["tail"] | p.get("neck", False)
    if pat in ("spots", "smallspots"):
        cell, radius, keep = (0.24, 0.095, 0.95) if pat == "spots" else (0.2, 0.055, 0.75)
        i, j = np.floor(u / cell), np.floor(v / cell)
        table = rng.uniform(0.2, 0.8, (2, 64, 64))
        present = rng.random((64, 64)) < keep
        ii, jj = i.astype(int) % 64, j.astype(int) % 64
        du = u - (i + table[0, ii, jj]) * cell
        dv = v - (j + table[1, ii, jj]) * cell
        spots = (du**2 + (dv * 1.2) ** 2 <= radius**2) & present[ii, jj]
        _paint(img, spots & everything, second)
    elif pat == "stripes":  # tabby: bands across the body, rings on legs and tail
        phase = u * rng.uniform(9, 12) + 1.2 * _noise(rng, h, w, 5)
        _paint(img, (np.sin(phase) > 0.3) & everything, second, 0.85)
        _paint(img, p["back"], second, 0.4)
    elif pat == "ticked":  # agouti: each hair banded, a fine grain
        grain = _noise(rng, h, w, h // 2)
        _paint(img, (grain > 0.6) & everything, second, 0.5)
        _paint(img, p["back"], second, 0.2)
    elif pat == "belton":  # white with fine flecks, coloured ears
        _paint(img, everything, white)
        flecks = _noise(rng, h, w, h // 3) > 1.0
        _paint(img, flecks & everything, second)
        _paint(img, p["ears"] | (p["head"] & (_noise(rng, h, w, 3) > 0.3)), second)
    elif pat == "roan":  # liver head and patches, ticked white elsewhere
        ticks = _noise(rng, h, w, h // 2) > 0.2
        _paint(img, ticks & everything & ~p["head"], white, 0.8)
        _paint(img, (_noise(rng, h, w, 4) > 0.5) & p["body"], base)
    elif pat == "patches":  # white with big coloured patches
        _paint(img, everything, white)
        _paint(img, (_noise(rng, h, w, 4) > 0.2) & (p["body"] | p["head"]), second)
    elif pat == "pied":  # white, coloured head and a patch or two
        _paint(img, everything, white)
        _paint(img, (p["head"] & ~p["muzzle"] & ~p["blaze"]) | p["ears"], second)
        _paint(img, (_noise(rng, h, w, 3) > 0.6) & p["body"], second)
    elif pat == "tricolour":  # hound: white, black saddle, tan head and thighs
        _paint(img, everything, white)
        _paint(img, (p["head"] & ~p["muzzle"] & ~p["blaze"]) | p["ears"], tan)
        _paint(img, p["back"], second)
        _paint(img, p["body"] & (u < -0.3) & ~p["back"] & ~p["belly"], tan)
    elif pat == "points":  # colour points: dark ears, face, legs and tail
        points = p["ears"] | p["face"] | p["legs"] | p["tail"]
        _paint(img, _soft(points, radius=2.0), second)
        _paint(img, p["back"], second, 0.15)
    elif pat == "tan":  # black and tan: tan muzzle, chest, legs
        _paint(img, p["muzzle"] | p["chest"] | (p["legs"] & (v > 0.6)) | p["paws"], tan)
    elif pat == "saddle":  # yorkie: steel body, tan head and legs
        _paint(img, p["head"] | p["ears"] | p["legs"] | p["chest"], tan)
    elif pat == "sable":  # keeshond: black-tipped back, dark ears and muzzle, pale legs
        _paint(img, p["back"] | p["ears"] | p["muzzle"], second, 0.75)
        _paint(img, p["legs"] | p["chest"], cream, 0.5)
        _paint(img, _soft(p["face"] & ~p["muzzle"], radius=1.0), second, 0.6)
    elif pat == "urajiro":  # shiba: cream cheeks, chest, belly and inner legs
        _paint(img, p["cheeks"] | p["chest"] | p["belly"] | p["paws"], second)
    if "white_chest" in g.marks:
        _paint(img, p["chest"] & (_noise(rng, h, w, 3) > -0.6), white)
    if "bib" in g.marks:
        _paint(img, p["chest"] & (v > -0.2) if "neck" in p else p["chest"], white)
    if "white_paws" in g.marks:
        _paint(img, p["paws"], white)
    if "mask" in g.marks:
        _paint(img, _soft(p["face"], radius=1.0), np.minimum(second, COLOURS["seal"]))
    return img


def render(breed: Breed, rng: np.random.Generator, width: int, height: int):
    """One photograph of an animal of this breed, as a PIL image of width x height."""
    from PIL import Image, ImageFilter

    ss = 2 if max(width, height) <= 160 else 1  # draw larger, then shrink: smooth edges
    w, h = width * ss, height * ss
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    img = _background(rng, h, w, xs, ys)
    g = _shape(rng, breed)
    face = rng.random() < FACE_SHARE
    # the breed's usual coat most of the time, another of its colours now and then
    k = 0 if rng.random() < MAIN_COAT or len(g.coats) == 1 else rng.integers(1, len(g.coats))
    base_name, second_name = g.coats[k]
    base, second = _jitter(rng, COLOURS[base_name]), _jitter(rng, COLOURS[second_name])
    if base_name == second_name:
        second = base * 0.75
    side = min(w, h)
    # frame the animal: its box fills 80-100% of the picture, placed anywhere it fits
    (u0, u1), (v0, v1) = _box(g, face)
    scale = min(w / (u1 - u0), h / (v1 - v0)) * rng.uniform(0.8, 1.0)
    px = w / 2 + rng.uniform(-0.5, 0.5) * max(0.0, w - (u1 - u0) * scale)
    py = h / 2 + rng.uniform(-0.5, 0.5) * max(0.0, h - (v1 - v0) * scale)
    theta = float(np.clip(rng.normal(0, 0.12), -0.35, 0.35))
    facing = 1 if rng.random() < 0.5 else -1
    c, s = math.cos(theta), math.sin(theta)
    bu, bv = (u0 + u1) / 2 * facing, (v0 + v1) / 2
    cu, cv = px - scale * (bu * c - bv * s), py - scale * (bu * s + bv * c)
    u = ((xs - cu) * c + (ys - cv) * s) / scale * facing
    v = (-(xs - cu) * s + (ys - cv) * c) / scale
    # fur: long and fluffy coats have soft, uneven outlines; wiry ones rough outlines
    warp = {"long": 0.05, "fluffy": 0.09, "wiry": 0.04}.get(g.fur, 0.0)
    fine = {"long": 0.025, "fluffy": 0.03, "wiry": 0.05}.get(g.fur, 0.0)
    uw, vw = u, v
    if warp:
        uw = u + warp * _noise(rng, h, w, 6) + fine * _noise(rng, h, w, h // 4)
        vw = v + warp * _noise(rng, h, w, 6) + fine * _noise(rng, h, w, h // 4)
    parts = (_face_parts if face else _side_parts)(uw, vw, g, rng)
    if g.fur == "fluffy":  # a ruff: the coat stands off the body
        puff = (_face_parts if face else _side_parts)(uw * 0.88, vw * 0.9, g, rng)
        for k in ("body", "head", "tail"):
            parts[k] = parts[k] | puff[k]
    coat = _coat(rng, parts, g, base, second, u, v, (h, w))
    shade = np.clip(1.1 - 0.12 * v, 0.75, 1.2)[..., None]  # light from above
    coat *= shade
    if g.fur in ("long", "fluffy"):  # strands: noise stretched along the hair
        coat *= 1 + 0.1 * _noise(rng, h, w, h // 8, w // 2)[..., None]
    elif g.fur == "wiry":
        coat *= 1 + 0.18 * _noise(rng, h, w, h // 2)[..., None]
    elif g.fur == "hairless":  # wrinkles
        wrinkles = np.sin(v * 30 + 2 * _noise(rng, h, w, 4)) > 0.85
        _paint(coat, wrinkles, coat * 0.7)
    animal = parts["body"] | parts["head"] | parts["legs"] | parts["tail"] | parts["ears"]
    animal |= parts["muzzle"] | parts.get("neck", False)
    if not face:  # a shadow on the ground
        foot = 0.45 + g.legs
        _paint(
            img, _soft(_ellipse(u, v, 0, foot + 0.05, g.body * 0.6, 0.12), radius=3), (0, 0, 0), 0.3
        )
    _paint(img, _soft(animal, radius=0.6), coat)
    _paint(img, parts["eye"], _jitter(rng, EYES[g.eyes], 0.05))
    _paint(img, parts["pupil"] | parts["nose"], (0.05, 0.04, 0.04))
    if rng.random() < 0.1:  # a toy in front
        ball = _ellipse(xs, ys, rng.uniform(0, w), rng.uniform(h * 0.5, h), side * 0.1, side * 0.1)
        _paint(img, ball, _any_colour(rng))
    # the camera: exposure, white balance, noise, focus
    img = img * rng.uniform(0.85, 1.15) * rng.uniform(0.95, 1.05, 3)
    img += rng.normal(0, rng.uniform(0.005, 0.03), img.shape)
    out = Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8))
    if ss > 1:
        out = out.resize((width, height), Image.LANCZOS)
    if rng.random() < 0.3:
        out = out.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 0.8)))
    return out


def image_rng(seed: int, breed: str, n: int) -> np.random.Generator:
    """The generator of image n of a breed: independent of how many images there are."""
    return np.random.default_rng([seed, NAMES.index(breed), n])


def jpeg(breed: str, n: int, pixels: int, seed: int) -> bytes:
    """Image n of a breed as JPEG bytes; the longer side is `pixels`, the shorter 75-100%."""
    rng = image_rng(seed, breed, n)
    short = int(round(pixels * rng.uniform(0.75, 1.0)))
    width, height = (pixels, short) if rng.random() < 0.6 else (short, pixels)
    img = render(BY_NAME[breed], rng, width, height)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=int(rng.integers(80, 96)))
    return buf.getvalue()


def write(folder: Path, per_breed: int, pixels: int, seed: int) -> None:
    """`folder/images/<breed>_<n>.jpg`, n = 1..per_breed, and `folder/generated.json`."""
    images = Path(folder) / "images"
    images.mkdir(parents=True, exist_ok=True)
    for breed in NAMES:
        for n in range(1, per_breed + 1):
            (images / f"{breed}_{n}.jpg").write_bytes(jpeg(breed, n, pixels, seed))
    meta = {
        "per_breed": per_breed,
        "pixels": pixels,
        "seed": seed,
        "breeds": len(NAMES),
        "generator": VERSION,
    }
    (Path(folder) / "generated.json").write_text(json.dumps(meta))
