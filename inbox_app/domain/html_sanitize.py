"""Make e-mail HTML safe to display, and turn it into plain text.

Mail HTML is hostile by default: scripts, forms, iframes and event handlers are removed, and every remote
image is blocked (a remote image is a read receipt for the sender: it tells them when and where the seller
opened the mail). A blocked image keeps its address in ``data-blocked-src`` so the UI can offer
"N remote images blocked — Show" and re-run :func:`sanitize_html` with ``allow_remote=True`` on the stored,
already sanitized HTML. Inline ``cid:`` images stay, the UI resolves them from the attachments.

nh3 (ammonia) does the real work; this module only chooses the allow-lists and rewrites ``<img>``.

Why in ``domain``: it is pure text processing used by the mail channel (parsing) and by the thread view
(display), and the UI does not import channels (STYLE.md).
"""

from __future__ import annotations

import base64
import binascii
import html as _html
import re
from urllib.parse import unquote_to_bytes

import nh3

__all__ = [
    "count_blocked_images",
    "data_url_image",
    "html_is_too_deep",
    "html_to_text",
    "raster_image_format",
    "sanitize_html",
    "sanitized_html_to_text",
]

_TAGS = frozenset(
    [
        "a",
        "abbr",
        "acronym",
        "address",
        "b",
        "bdi",
        "bdo",
        "big",
        "blockquote",
        "br",
        "caption",
        "center",
        "cite",
        "code",
        "col",
        "colgroup",
        "dd",
        "del",
        "details",
        "dfn",
        "div",
        "dl",
        "dt",
        "em",
        "figcaption",
        "figure",
        "font",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "img",
        "ins",
        "kbd",
        "li",
        "mark",
        "ol",
        "p",
        "pre",
        "q",
        "rp",
        "rt",
        "ruby",
        "s",
        "samp",
        "small",
        "span",
        "strike",
        "strong",
        "sub",
        "summary",
        "sup",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "time",
        "tr",
        "tt",
        "u",
        "ul",
        "var",
        "wbr",
    ]
)
_CLEAN_CONTENT_TAGS = frozenset({"script", "style", "title", "head", "noscript", "template", "object"})
_COMMON_ATTRS = frozenset({"align", "valign", "dir", "lang", "title", "style", "width", "height"})
_ATTRIBUTES: dict[str, set[str]] = {
    "*": set(_COMMON_ATTRS),
    "a": {"href", "name"},
    "img": {"src", "alt", "border", "data-blocked-src", "hspace", "vspace"},
    "font": {"color", "face", "size"},
    "table": {"border", "cellpadding", "cellspacing", "bgcolor", "summary"},
    "td": {"colspan", "rowspan", "bgcolor", "nowrap", "abbr", "scope"},
    "th": {"colspan", "rowspan", "bgcolor", "nowrap", "abbr", "scope"},
    "tr": {"bgcolor"},
    "col": {"span"},
    "colgroup": {"span"},
    "ol": {"start", "type", "reversed"},
    "ul": {"type"},
    "li": {"value"},
    "blockquote": {"cite"},
    "q": {"cite"},
    "time": {"datetime"},
    "details": {"open"},
}
# Only these CSS properties survive in style="…"; none of them can load a URL (no background, no content).
_STYLE_PROPERTIES = frozenset(
    {
        "border", "border-bottom", "border-collapse", "border-color", "border-left", "border-radius",
        "border-right", "border-spacing", "border-style", "border-top", "border-width", "color", "direction",
        "display", "font", "font-family", "font-size", "font-style", "font-variant", "font-weight", "height",
        "letter-spacing", "line-height", "list-style-type", "margin", "margin-bottom", "margin-left",
        "margin-right", "margin-top", "max-width", "min-width", "padding", "padding-bottom", "padding-left",
        "padding-right", "padding-top", "text-align", "text-decoration", "text-indent", "text-transform",
        "vertical-align", "white-space", "width", "word-break", "word-wrap", "background-color",
    }
)  # fmt: skip
_URL_SCHEMES = frozenset({"http", "https", "mailto", "tel", "cid", "data"})
# nh3 output is normalized (lowercase names, values double-quoted with ``"`` and ``>`` escaped, ``<``
# escaped in text), so these patterns see exactly the tags nh3 kept and nothing a sender wrote as text.
_IMG_TAG = re.compile(r"<img((?:\s+[^\s=>]+(?:=\"[^\"]*\")?)*)\s*/?>")
_ATTR = re.compile(r"([^\s=>]+)(?:=\"([^\"]*)\")?")
# data: URLs only as inline images: a data: link could carry a whole HTML page.
_DATA_URL_ATTR = re.compile(r"(<[a-z0-9]+\b[^>]*?)\s(?:href|cite)=\"\s*data:[^\"]*\"", re.IGNORECASE)
_CLEANER = nh3.Cleaner(
    tags=set(_TAGS),
    clean_content_tags=set(_CLEAN_CONTENT_TAGS),
    attributes={k: set(v) for k, v in _ATTRIBUTES.items()},
    strip_comments=True,
    link_rel="noopener noreferrer",
    url_schemes=set(_URL_SCHEMES),
    filter_style_properties=set(_STYLE_PROPERTIES),
)


# The raster formats an inline image may be, by their magic bytes. SVG is not one of them: Qt's SVG renderer
# opens every file an <image xlink:href="/path"> names (a FIFO hangs it), so an SVG never reaches it, whatever
# its data: URL claims to be.
_RASTER_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"BM", "bmp"),
)
_RASTER_TYPES = frozenset(
    {"image/png", "image/jpeg", "image/jpg", "image/pjpeg", "image/gif", "image/bmp", "image/webp"}
)
_SNIFF_CHARS = 64  # base64 characters decoded to read the magic bytes (48 bytes)


def raster_image_format(data: bytes) -> str | None:
    """The raster format of ``data`` by its magic bytes ("png", "jpeg", "gif", "bmp", "webp"), else None."""
    for magic, kind in _RASTER_MAGIC:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def data_url_image(url: str, *, limit: int | None = None) -> tuple[str, bytes] | None:
    """(format, bytes) of a ``data:`` URL that holds a raster image, both by its declared type and its real
    content; None for anything else (SVG, XML, HTML, text, broken base64). ``limit``: decode only enough to
    sniff (the first few dozen bytes) instead of the whole image."""
    text = _html.unescape(url.strip())
    if text[:5].lower() != "data:":
        return None
    head, sep, payload = text[5:].partition(",")
    if not sep:
        return None
    params = [p.strip().lower() for p in head.split(";")]
    if params[0] not in _RASTER_TYPES:
        return None
    try:
        if "base64" in params[1:]:
            compact = re.sub(r"\s+", "", payload if limit is None else payload[: limit * 2])
            if limit is not None:
                compact = compact[: len(compact) // 4 * 4]
            data = base64.b64decode(compact, validate=False)
        else:
            data = unquote_to_bytes(payload if limit is None else payload[: limit * 3])
    except (binascii.Error, ValueError):
        return None
    kind = raster_image_format(data)
    return (kind, data) if kind is not None else None


def _is_raster_data_url(url: str) -> bool:
    return data_url_image(url, limit=_SNIFF_CHARS) is not None


def _is_remote(url: str) -> bool:
    low = url.strip().lower()
    return low.startswith(("http:", "https:", "//"))


def _is_local_image(url: str) -> bool:
    """An image the mail carries itself: an attachment (``cid:``) or a raster ``data:`` image."""
    low = url.strip().lower()
    return low.startswith("cid:") or (low.startswith("data:") and _is_raster_data_url(url))


def _rewrite_img(match: re.Match[str], allow_remote: bool) -> str:
    """Move a remote ``src`` to ``data-blocked-src`` (or back, when allowed); drop non-image data: URLs."""
    src: str | None = None
    blocked: str | None = None
    rest: list[str] = []
    for attr in _ATTR.finditer(match.group(1)):
        name, value = attr.group(1), attr.group(2)
        if name == "src":
            src = value
        elif name == "data-blocked-src":
            blocked = value if value and _is_remote(value) else None  # anything else is forged
        else:
            rest.append(f'{name}="{value}"' if value is not None else name)
    if src is not None and src.strip().lower().startswith("data:") and not _is_raster_data_url(src):
        src = None  # a data: page, an SVG (whose renderer opens files it names) or a mislabelled one
    elif src is not None and not _is_remote(src) and not _is_local_image(src):
        src = None  # a path ("0", "/etc/passwd", "../x"): the view would resolve it against something local
    if src is not None and _is_remote(src) and not allow_remote:
        src, blocked = "", src
    elif allow_remote and blocked is not None and not src:
        src, blocked = blocked, None
    out: list[str] = []
    if src is not None:
        out.append(f'src="{src}"')
    elif blocked is not None:
        out.append('src=""')
    if blocked is not None:
        out.append(f'data-blocked-src="{blocked}"')
    out.extend(rest)
    return "<img " + " ".join(out) + ">" if out else "<img>"


def _block(match: re.Match[str]) -> str:
    return _rewrite_img(match, allow_remote=False)


def _allow(match: re.Match[str]) -> str:
    return _rewrite_img(match, allow_remote=True)


# html5ever (inside nh3) is quadratic in the nesting depth of block elements that close a <p> (50,000
# nested <div>s take half a minute). No real mail nests that deep, so past a limit the HTML is shown as
# escaped text instead. The scan only runs on big documents, so ordinary mail pays nothing.
_DEEP_SCAN_MIN_TAGS = 4000
_MAX_BLOCK_DEPTH = 1500
# <p>, <li>, <dd>, <dt> and headings close their open sibling, so they never nest: not counted.
_BLOCK_OPEN_CLOSE = re.compile(
    r"<(/?)(?:div|ul|ol|dl|blockquote|section|center|article|aside|nav|header|footer|main|"
    r"fieldset|figure|figcaption|details|summary|address|pre|form|dir|menu|listing|table)\b",
    re.IGNORECASE,
)
_LOOSE_TAG = re.compile(r"<[^>]*>?")


def html_is_too_deep(html: str) -> bool:
    """True when the HTML nests block elements so deeply that parsing it would stall the import."""
    if html.count("<") < _DEEP_SCAN_MIN_TAGS:
        return False
    depth = 0
    for closing in _BLOCK_OPEN_CLOSE.findall(html):
        if closing:
            depth = depth - 1 if depth else 0
        else:
            depth += 1
            if depth > _MAX_BLOCK_DEPTH:
                return True
    return False


def _crude_text(html: str) -> str:
    return _SPACES.sub(" ", _html.unescape(_LOOSE_TAG.sub(" ", html))).strip()


def sanitize_html(html: str, *, allow_remote: bool = False) -> str:
    """Return HTML that is safe to render: no scripts, forms, frames or handlers; remote images blocked.

    With ``allow_remote=True`` remote images load, including ones blocked by an earlier call (so the UI can
    run this again on the stored HTML when the user presses "Show").
    """
    if not html:
        return ""
    if html_is_too_deep(html):
        return f"<p>{_html.escape(_crude_text(html), quote=False)}</p>"
    cleaned: str = _CLEANER.clean(html)
    if "data:" in cleaned:
        cleaned = _DATA_URL_ATTR.sub(r"\1", cleaned)
    if "<img" not in cleaned:
        return cleaned
    return _IMG_TAG.sub(_allow if allow_remote else _block, cleaned)


_BLOCKED_ATTR = re.compile(r"<img\b[^>]*\sdata-blocked-src=\"[^\"]+\"")


def count_blocked_images(html: str | None) -> int:
    """How many remote images :func:`sanitize_html` blocked in this (sanitized) HTML."""
    if not html:
        return 0
    return len(_BLOCKED_ATTR.findall(html))


# ---------------------------------------------------------------------------------------------- to text
_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "center", "dd", "details", "div", "dl", "dt",
        "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
        "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table", "tr", "ul",
    }
)  # fmt: skip
_SKIP_TAGS = frozenset({"script", "style", "title", "template", "noscript", "object"})
_TEXT_SHAPING_TAGS = _BLOCK_TAGS | {"br", "td", "th", "img"}
_SPACES = re.compile(r"[ \t\f\v\r\n\u00a0]+")


# Text extraction runs on nh3 output, which is normalized (lowercase tags, double-quoted attributes with
# ``"``/``>`` escaped, ``<`` escaped in text), so regular expressions are exact here, and run at C speed.
_LINE, _PARA, _SLOT = "\x01", "\x02", "\x03"
_CONTROL_MARKS = re.compile("[\x01\x02\x03]")
_PRE = re.compile(r"<pre\b[^>]*>(.*?)</pre>", re.DOTALL)
_IMG_ALT = re.compile(r'<img\b[^>]*?\salt="([^"]*)"[^>]*>')
_PARA_TAGS = re.compile(r"</?(?:p|table|blockquote|h[1-6]|hr)\b[^>]*>")
_LI_TAG = re.compile(r"<li\b[^>]*>")
_LINE_TAGS = re.compile(
    r"<br\b[^>]*>|</?(?:address|article|aside|center|dd|details|div|dl|dt|fieldset|figcaption|figure|footer|"
    r"form|header|li|main|nav|ol|section|summary|tr|ul)\b[^>]*>"
)
_CELL_TAGS = re.compile(r"<t[dh]\b[^>]*>")
_ANY_TAG = re.compile(r"<[^>]*>")
# Each pattern starts with a literal so the regex engine can skip ahead (a leading `` *`` is 5x slower).
_LINES_BEFORE_PARA = re.compile("\x01+(?=\x02)")
_PARA_RUN = re.compile("\x02[\x01\x02]*")
_LINE_RUN = re.compile("\x01+")
_SLOT_REF = re.compile("\x03(\\d+)\x03")


def _pre_text(inner: str) -> str:
    return _html.unescape(_ANY_TAG.sub("", _LINE_TAGS.sub("\n", inner))).strip("\n")


_TEXT_CLEANER = nh3.Cleaner(
    tags=set(_TEXT_SHAPING_TAGS),
    clean_content_tags=set(_SKIP_TAGS),
    attributes={"img": {"alt"}},
    strip_comments=True,
    link_rel=None,
)


def html_to_text(html: str) -> str:
    """Readable plain text from HTML: paragraphs and line breaks kept, entities decoded, markup dropped.

    nh3 (Rust, html5ever) parses the HTML like a browser would and keeps only the tags that shape text;
    its output is normalized (lowercase tags, double-quoted attributes, escaped text), so a simple token
    scan finishes the job. This is ~5x faster than ``html.parser`` on newsletters, which matters for
    the thousands of HTML-only mails of a first import.
    """
    if not html:
        return ""
    if html_is_too_deep(html):
        return _crude_text(html)
    reduced: str = _TEXT_CLEANER.clean(html)
    return sanitized_html_to_text(reduced)


def sanitized_html_to_text(html: str) -> str:
    """:func:`html_to_text` for output of :func:`sanitize_html` (already normalized: no second nh3 pass)."""
    if not html:
        return ""
    text = _CONTROL_MARKS.sub("", html)
    pre_blocks: list[str] = []
    if "<pre" in text:

        def keep_pre(match: re.Match[str]) -> str:
            pre_blocks.append(_pre_text(match.group(1)))
            return f"{_LINE}{_SLOT}{len(pre_blocks) - 1}{_SLOT}{_LINE}"

        text = _PRE.sub(keep_pre, text)
    if "<img" in text:
        text = _IMG_ALT.sub(lambda m: f"[{m.group(1)}]" if m.group(1).strip() else "", text)
    text = _PARA_TAGS.sub(_PARA, text)
    text = _LI_TAG.sub(_LINE + "• ", text)
    text = _LINE_TAGS.sub(_LINE, text)
    text = _CELL_TAGS.sub(" ", text)
    text = _ANY_TAG.sub("", text)
    text = _SPACES.sub(" ", _html.unescape(text))
    # After _SPACES at most one space sits next to a mark: plain replaces drop it.
    for mark in (_LINE, _PARA):
        text = text.replace(" " + mark, mark).replace(mark + " ", mark)
    text = _LINES_BEFORE_PARA.sub("", text)
    text = _PARA_RUN.sub("\n\n", text)
    text = _LINE_RUN.sub("\n", text).strip()
    if pre_blocks:
        text = _SLOT_REF.sub(lambda m: pre_blocks[int(m.group(1))], text)
    return text
