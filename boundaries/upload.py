"""A survey team's file uploaded through the editor, opened as a draft by the same importer the
`import_boundary_draft` command uses (boundaries.importer → layers.io).

A GeoPackage or GeoJSON file comes as it is; a Shapefile is several files, so it comes as one .zip
(the .cpg and .prj beside the .shp decide its encoding and CRS), unpacked into a private temporary
directory.  Archive members are never trusted as paths: only their base names are used, so a member
named `../../x` cannot write outside that directory.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from django.core.files.uploadedfile import UploadedFile

from layers.io.errors import LayerIOError
from layers.io.importer import ImportRejected
from layers.models import AdminUnit

from .drafts import check_permission
from .errors import Refusal
from .generations import check_codes
from .importer import import_draft
from .models import Draft

MAX_UPLOAD = 30 * 1024 * 1024  # a district's grids are a few MB (and bodies stop at 32 MB anyway)
MAX_UNPACKED = 200 * 1024 * 1024
DATASETS = (".gpkg", ".geojson", ".json", ".shp")


def _unpack(archive: Path, into: Path) -> Path:
    try:
        with zipfile.ZipFile(archive) as z:
            members = [m for m in z.infolist() if not m.is_dir()]
            if sum(m.file_size for m in members) > MAX_UNPACKED:
                raise Refusal(413, "too_large", "压缩包解压后过大", "the archive unpacks to too much data")
            for m in members:
                name = PurePosixPath(m.filename.replace("\\", "/")).name
                if not name or name.startswith("."):
                    continue
                with z.open(m) as src, open(into / name, "wb") as dst:
                    shutil.copyfileobj(src, dst)
    except zipfile.BadZipFile:
        raise Refusal(422, "bad_file", "不是有效的 zip 压缩包", "not a valid zip archive") from None
    found = sorted(p for p in into.iterdir() if p.suffix.lower() in DATASETS)
    if len(found) != 1:
        raise Refusal(
            422,
            "bad_file",
            "压缩包中应恰好有一个 .shp、.gpkg 或 .geojson 文件",
            "the archive must hold exactly one .shp, .gpkg or .geojson file",
        )
    return found[0]


def import_upload(
    user, upload: UploadedFile, net: str, area: str, *, crs: str | None = None, encoding: str | None = None
) -> tuple[Draft, dict]:
    """Open a draft from an uploaded file; returns the draft and what the importer reported."""
    check_codes(net, area)
    for name, value in (("crs", crs), ("encoding", encoding)):
        if value and (len(value) > 80 or "\x00" in value):
            raise Refusal(400, "bad_request", f"{name} 无效", f"invalid {name}")
    # Who may, before a byte of the file is read.
    unit = AdminUnit.objects.filter(code=area).defer("geom", "geom_3857").first()
    if unit is None:
        raise Refusal(422, "unknown_area", f"行政区划不存在：{area}", f"no such admin unit: {area}")
    check_permission(user, unit)
    if upload.size is not None and upload.size > MAX_UPLOAD:
        raise Refusal(413, "too_large", "文件超过 30 MB", "the file is larger than 30 MB")
    suffix = Path(upload.name or "").suffix.lower()
    if suffix not in (".zip", ".gpkg", ".geojson", ".json"):
        raise Refusal(
            422,
            "bad_file",
            "请上传 GeoPackage（.gpkg）、GeoJSON 或 Shapefile 的 .zip 压缩包",
            "upload a GeoPackage (.gpkg), a GeoJSON file or a Shapefile as a .zip",
        )
    workdir = Path(tempfile.mkdtemp(prefix="onenet-upload-"))
    try:
        received = workdir / f"upload{suffix}"
        with open(received, "wb") as out:
            for chunk in upload.chunks():
                out.write(chunk)
        path = received
        if suffix == ".zip":
            unpacked = workdir / "files"
            unpacked.mkdir()
            path = _unpack(received, unpacked)
        try:
            draft, report = import_draft(
                user,
                path,
                net,
                area,
                crs=crs or None,
                encoding=encoding or None,
                note=f"导入 imported from {Path(upload.name or path.name).name}",
            )
        except ImportRejected as exc:
            raise Refusal(
                422,
                "bad_features",
                f"{len(exc.report.bad)} 个要素有问题，未打开草稿",
                f"{len(exc.report.bad)} features are bad; no draft was opened",
                features=[
                    {"index": b.index, "fid": b.fid, "label": b.label, "reasons": b.reasons}
                    for b in exc.report.bad[:200]
                ],
            ) from None
        except LayerIOError as exc:
            # The reader names the file by its temporary path: the planner knows it by its own name.
            text = str(exc).replace(str(path), upload.name or path.name).replace(str(workdir), "")
            raise Refusal(422, "bad_file", text, text) from None
        return draft, {
            "driver": report.driver,
            "source_crs": report.source_crs,
            "encoding": report.encoding,
            "read": report.read,
            "written": report.written,
            "warnings": report.warnings,
        }
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
