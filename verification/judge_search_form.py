"""The judges' search form: what was typed into it, checked field by field, as Criteria.

Every error belongs to its field and says in the reader's language how to put it right;
what was typed stays in the form.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import get_language, pgettext_lazy

from documents import codes
from documents.models import Court
from documents.search import Criteria
from plumbing import error_codes

# Days may be typed as 2026-03-01, 2026/03/01, 2026.03.01 or 2026年3月1日.
DATE_FORMATS = ["%Y-%m-%d", "%Y/%m/%d", "%Y.%m.%d", "%Y年%m月%d日"]
BAD_DATE = pgettext_lazy("judges", "Type a date as year-month-day, for example 2026-03-01.")


class JudgeSearchForm(forms.Form):
    """GET parameters of /judges: code, case_number, court, recorded_from, recorded_to,
    party; any of them, none required."""

    code = forms.CharField(required=False, max_length=64)
    case_number = forms.CharField(required=False, max_length=100)
    court = forms.ModelChoiceField(
        Court.objects.all(),
        required=False,
        to_field_name="code",
        error_messages={"invalid_choice": pgettext_lazy("judges", "Choose a court from the list.")},
    )
    recorded_from = forms.DateField(
        required=False, input_formats=DATE_FORMATS, error_messages={"invalid": BAD_DATE}
    )
    recorded_to = forms.DateField(
        required=False, input_formats=DATE_FORMATS, error_messages={"invalid": BAD_DATE}
    )
    party = forms.CharField(required=False, max_length=200)

    def __init__(self, data=None) -> None:
        super().__init__(data, auto_id="search-%s")
        for field in self.fields.values():
            if isinstance(field, forms.CharField) and field.max_length:
                field.error_messages["max_length"] = pgettext_lazy(
                    "judges", "This is longer than anything it could find."
                )

    def clean_code(self) -> str | None:
        typed = self.cleaned_data["code"]
        if not typed:
            return None
        try:
            return codes.normalize(typed)
        except codes.CodeError as exc:
            problem = error_codes.CODE_PROBLEMS.get(exc.reason, error_codes.CODE_PROBLEM_UNKNOWN)
            raise forms.ValidationError(problem.in_language(get_language() or "zh-hans")) from None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("recorded_from"), cleaned.get("recorded_to")
        if start and end and end < start:
            self.add_error(
                "recorded_to",
                pgettext_lazy("judges", "The last day comes before the first day."),
            )
        return cleaned

    def criteria(self) -> Criteria:
        """The valid form as search criteria."""
        data = self.cleaned_data
        return Criteria(
            code=data["code"],
            case_number=data["case_number"] or None,
            court=data["court"],
            recorded_from=data["recorded_from"],
            recorded_to=data["recorded_to"],
            party=data["party"] or None,
        )
