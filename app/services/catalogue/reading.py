"""Reading catalogues: a file, or every catalogue of a folder, with ``extends`` resolved.

``read_catalogues`` parses each file (``app/services/catalogue/parsing.py``), resolves the
standards a catalogue takes from another (``extends`` with ``only`` / ``exclude`` and
``overrides``) and collects every error of every file before giving up (``CatalogueError``).
Nothing touches the database: loading is ``app/services/catalogue/catalogues.py``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from app.services.catalogue.parsing import (
    CATALOGUE_SUFFIXES,
    CatalogueDoc,
    CatalogueError,
    CatalogueSpec,
    StandardSpec,
    is_int,
    kinds_on_everyone,
    parse_file,
    standard_label,
)


class _Resolver:
    """Resolves ``extends`` between the files being read and their siblings in the directory."""

    def __init__(self, directory: Path, targets: list[CatalogueDoc]) -> None:
        self.directory = directory
        self.targets = targets
        self.by_key: dict[str, list[CatalogueDoc]] = {}
        for doc in targets:
            if doc.key:
                self.by_key.setdefault(doc.key, []).append(doc)
        self.siblings_read = False
        self.unreadable: list[str] = []
        self.involved: list[CatalogueDoc] = list(targets)  # the docs whose errors are reported
        self.done: dict[Path, tuple[StandardSpec, ...] | None] = {}
        self.in_cycle: set[Path] = set()

    def _read_siblings(self) -> None:
        """Index the other catalogue files of the directory by key, once, when first needed."""
        if self.siblings_read:
            return
        self.siblings_read = True
        known = {doc.path.resolve() for doc in self.targets}
        for path in catalogue_paths(self.directory):
            if path.resolve() in known:
                continue
            doc = parse_file(path)
            if doc.key:
                self.by_key.setdefault(doc.key, []).append(doc)
            else:
                self.unreadable.append(path.name)

    def _base(self, doc: CatalogueDoc) -> CatalogueDoc | None:
        """The catalogue ``doc`` extends, or None with an error recorded on ``doc``."""
        if doc.extends is None:
            return None
        if doc.extends not in self.by_key:
            self._read_siblings()
        found = self.by_key.get(doc.extends, [])
        if not found:
            hint = ""
            if self.unreadable:
                hint = f"（読めなかったファイル: {'、'.join(self.unreadable)}）"
            doc.error(
                f"extends の対象 {doc.extends} が同じフォルダー ({self.directory}) の"
                f"カタログに見つかりません{hint}"
            )
            return None
        if len(found) > 1:
            names = "、".join(d.name for d in found)
            doc.error(f"extends の対象 {doc.extends} が複数のファイルにあります（{names}）")
            return None
        base = found[0]
        if base not in self.involved:
            self.involved.append(base)
        return base

    def resolve(
        self, doc: CatalogueDoc, stack: tuple[CatalogueDoc, ...] = ()
    ) -> tuple[StandardSpec, ...] | None:
        """The full list of ``doc``'s standards, or None when it or a base has errors."""
        if doc.path in self.done:
            return self.done[doc.path]
        if not doc.readable:
            self.done[doc.path] = None
            return None
        if doc.extends is None:
            result = self._finish(doc, [], "")
            self.done[doc.path] = result
            return result

        base = self._base(doc)
        inherited: tuple[StandardSpec, ...] | None = None
        if base is not None:
            if base in stack or base is doc:
                cycle = [*stack[stack.index(base) :], doc, base] if base in stack else [doc, doc]
                chain = " → ".join(d.key or d.name for d in cycle)
                for member in {d.path: d for d in cycle}.values():
                    member.error(f"extends が循環しています（{chain}）")
                    self.in_cycle.add(member.path)
                    self.done[member.path] = None
                return None
            inherited = self.resolve(base, (*stack, doc))
            if doc.path in self.in_cycle:
                return None
            if inherited is None:
                doc.error(
                    f"extends の対象 {base.key} ({base.name}) に誤りがあるため、"
                    "基準を継承できません"
                )
        result = None
        if base is not None and inherited is not None:
            # Checked even when the file has other errors, so that all of them are reported.
            result = self._finish(doc, self._select(doc, base, inherited), base.key or "")
        self.done[doc.path] = result
        return result

    def _select(
        self, doc: CatalogueDoc, base: CatalogueDoc, inherited: tuple[StandardSpec, ...]
    ) -> list[StandardSpec]:
        """Apply ``only``/``exclude`` and ``overrides`` to the base's standards."""
        numbers = {s.number for s in inherited}
        chosen = list(inherited)
        for name in ("only", "exclude"):
            wanted: list[int] | None = getattr(doc, name)
            if wanted is None:
                continue
            missing = sorted(set(wanted) - numbers)
            if missing:
                listed = "、".join(f"No.{n}" for n in missing)
                doc.error(f"{name} の {listed} は継承元 {base.key} にありません")
            if name == "only":
                chosen = [s for s in chosen if s.number in set(wanted)]
            else:
                chosen = [s for s in chosen if s.number not in set(wanted)]
        scope = (
            base.key if doc.only is None and doc.exclude is None else f"{base.key} から選んだ基準"
        )
        overridden: dict[str, str] = {}
        for target, values in doc.overrides:
            label = f"overrides の No.{target}" if is_int(target) else f"overrides の {target}"
            index = next(
                (
                    i
                    for i, s in enumerate(chosen)
                    if (s.number if is_int(target) else s.key) == target
                ),
                None,
            )
            if index is None:
                doc.error(f"{label} は継承する基準（{scope}）にありません")
                continue
            spec = chosen[index]
            if spec.key in overridden:
                doc.error(f"{label}: {overridden[spec.key]} と同じ基準を2回上書きしています")
                continue
            overridden[spec.key] = label
            changed = replace(spec, **values)
            if kinds_on_everyone(changed):
                doc.error(
                    f"{standard_label(spec.number, spec.key, 0)}: {label} で audience を "
                    "everyone にすると section_kinds が残ります"
                    "（section_kinds: [] も書いてください）"
                )
                continue
            chosen[index] = changed
        return chosen

    def _finish(
        self, doc: CatalogueDoc, inherited: list[StandardSpec], base_key: str
    ) -> tuple[StandardSpec, ...] | None:
        """Append the file's own standards to the inherited ones and check the whole list."""
        by_number = {s.number: s for s in inherited}
        by_key = {s.key: s for s in inherited}
        for spec in doc.own:
            label = standard_label(spec.number, spec.key, 0)
            if spec.number in by_number:
                other = by_number[spec.number]
                doc.error(
                    f"{label}: No.{spec.number} が {base_key} から継承した基準 ({other.key}) "
                    "と重複しています（exclude で外すか、別の番号にしてください）"
                )
            if spec.key in by_key:
                other = by_key[spec.key]
                doc.error(
                    f"{label}: key {spec.key} が {base_key} から継承した No.{other.number} "
                    "と重複しています"
                )
        standards = (*inherited, *doc.own)
        if not standards and not doc.errors:
            doc.error("基準が1つもありません")
        return None if doc.errors else standards


def catalogue_paths(directory: Path) -> list[Path]:
    """The catalogue files of a directory, by name."""
    return sorted(
        p for p in directory.iterdir() if p.is_file() and p.suffix.lower() in CATALOGUE_SUFFIXES
    )


def read_catalogues(path: str | Path) -> list[CatalogueSpec]:
    """Read and validate a catalogue file or every ``*.yaml`` file of a directory.

    ``extends`` targets are looked up by catalogue key among the files of the same directory
    (read only when needed if ``path`` is one file). Returns the catalogues in file-name order
    with their standards resolved; raises :class:`CatalogueError` with every error found.
    """
    path = Path(path)
    if path.is_dir():
        directory, files = path, catalogue_paths(path)
        if not files:
            raise CatalogueError([f"{path}: カタログのファイル (*.yaml) がありません"])
    elif path.is_file():
        directory, files = path.parent, [path]
    else:
        raise CatalogueError([f"{path}: ファイルもフォルダーも見つかりません"])

    targets = [parse_file(p) for p in files]
    resolver = _Resolver(directory, targets)
    first_file: dict[str, CatalogueDoc] = {}
    for doc in targets:
        if doc.key is None:
            continue
        if doc.key in first_file:
            doc.error(f"カタログの key {doc.key} は {first_file[doc.key].name} でも使われています")
        else:
            first_file[doc.key] = doc

    resolved = [(doc, resolver.resolve(doc)) for doc in targets]
    errors = [message for doc in resolver.involved for message in doc.errors]
    if errors:
        raise CatalogueError(errors)
    specs: list[CatalogueSpec] = []
    for doc, standards in resolved:
        if standards is None or not (doc.key and doc.title and doc.source and doc.fiscal_year):
            raise CatalogueError([f"{doc.name}: 読み込めませんでした"])  # not reached: no errors
        specs.append(
            CatalogueSpec(
                key=doc.key,
                title=doc.title,
                fiscal_year=doc.fiscal_year,
                ward=doc.ward,
                source=doc.source,
                path=doc.path,
                standards=standards,
                extends=doc.extends,
            )
        )
    return specs
