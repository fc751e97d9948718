"""The round form's catalogue menu names the fiscal year once (「令和7年度 令和7年度…」 no more)."""

from __future__ import annotations

from app.admin.forms import catalogue_label
from app.models import Catalogue


def test_a_title_that_starts_with_its_year_is_not_prefixed_again(app_ctx):
    """令和7年度 … is shown as is; a title without its year gets the year in front."""
    with_year = Catalogue(key="takatsu-2025", title="令和7年度 区役所サービス基準（高津区）",
                          fiscal_year=2025)
    without = Catalogue(key="t-2025", title="テスト基準", fiscal_year=2025)
    assert catalogue_label(with_year) == "令和7年度 区役所サービス基準（高津区）（takatsu-2025）"
    assert catalogue_label(without) == "令和7年度 テスト基準（t-2025）"
