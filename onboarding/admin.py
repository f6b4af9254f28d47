"""The admin site's way in: upload a handover folder as a zip, watch the run, read the report, apply.

Only staff with the permission to add onboarding runs see it (the admin site's own login and
permissions); the unpacked files and the report stay under MEDIA_ROOT and are shown through these views
only.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from gisapp.background import JobStatus

from . import uploads
from .models import Onboarding, OnboardingRun
from .run import REPORT_HTML

MAX_UPLOAD = 512 * 1024**2  # the zip itself


@admin.register(Onboarding)
class OnboardingAdmin(admin.ModelAdmin):
    list_display = ("folder", "applied_at", "fingerprint")
    readonly_fields = ("fingerprint", "folder", "applied_at", "report")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(OnboardingRun)
class OnboardingRunAdmin(admin.ModelAdmin):
    list_display = ("upload_name", "apply", "status", "created_at", "finished_at", "created_by")
    list_filter = ("status", "apply")
    readonly_fields = [f.name for f in OnboardingRun._meta.fields]

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("upload/", view(self.upload), name="onboarding_upload"),
            path("<uuid:pk>/progress/", view(self.progress), name="onboarding_progress"),
            path("<uuid:pk>/status/", view(self.status), name="onboarding_status"),
            path("<uuid:pk>/report/", view(self.report), name="onboarding_report"),
            path("<uuid:pk>/apply/", view(require_POST(self.apply_run)), name="onboarding_apply"),
            *super().get_urls(),
        ]

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context=None) -> HttpResponse:
        return redirect("admin:onboarding_upload")

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        return redirect("admin:onboarding_progress", pk=object_id)

    def _allowed(self, request: HttpRequest) -> None:
        if not self.has_add_permission(request):
            raise PermissionDenied

    def upload(self, request: HttpRequest) -> HttpResponse:
        self._allowed(request)
        error = ""
        if request.method == "POST":
            f = request.FILES.get("folder")
            if f is None:
                error = "请选择 zip 文件 choose a zip file"
            elif f.size > MAX_UPLOAD:
                error = f"文件超过 {MAX_UPLOAD // 1024**2} MB the zip is larger than that"
            else:
                try:
                    run = uploads.queue_upload(
                        request.user, f, f.name, apply=request.POST.get("apply") == "1"
                    )
                except uploads.UploadError as exc:
                    error = str(exc)
                else:
                    uploads.kick()
                    return redirect("admin:onboarding_progress", pk=run.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": _("上传城市数据 Upload a city's files"),
            "opts": self.model._meta,
            "error": error,
        }
        return TemplateResponse(
            request, "admin/onboarding/upload.html", context, status=400 if error else 200
        )

    def progress(self, request: HttpRequest, pk) -> HttpResponse:
        self._allowed(request)
        run = get_object_or_404(OnboardingRun, pk=pk)
        context = {
            **self.admin_site.each_context(request),
            "title": _("数据接入进度 Onboarding progress"),
            "opts": self.model._meta,
            "run": run,
            "status_url": reverse("admin:onboarding_status", args=[run.pk]),
            "report_url": reverse("admin:onboarding_report", args=[run.pk]),
            "apply_url": reverse("admin:onboarding_apply", args=[run.pk]),
        }
        return TemplateResponse(request, "admin/onboarding/progress.html", context)

    def status(self, request: HttpRequest, pk) -> JsonResponse:
        self._allowed(request)
        run = get_object_or_404(OnboardingRun, pk=pk)
        report = run.report or {}
        return JsonResponse(
            {
                "status": run.status,
                "status_label": str(run.get_status_display()),
                "step": run.step,
                "done": run.done,
                "total": run.total,
                "error": run.error,
                "apply": run.apply,
                "applied": bool(report.get("applied")),
                "already_applied": report.get("already_applied"),
                "layers": {
                    k: {
                        x: (len(v[x]) if isinstance(v[x], list) else v[x])
                        for x in ("read", "loadable", "repaired", "rejected")
                    }
                    for k, v in report.get("layers", {}).items()
                },
                "checks": {k: v["count"] for k, v in report.get("checks", {}).items()},
            }
        )

    def report(self, request: HttpRequest, pk) -> FileResponse:
        self._allowed(request)
        run = get_object_or_404(OnboardingRun, pk=pk)
        page = uploads.root() / str(run.pk)
        html = next(iter(sorted(page.rglob(REPORT_HTML))), None) if page.is_dir() else None
        if html is None or run.status != JobStatus.DONE:
            raise Http404("还没有报告 no report yet")
        return FileResponse(open(html, "rb"), content_type="text/html; charset=utf-8")

    def apply_run(self, request: HttpRequest, pk) -> HttpResponse:
        self._allowed(request)
        dry = get_object_or_404(OnboardingRun, pk=pk)
        if dry.status != JobStatus.DONE or dry.apply:
            messages.error(request, "只能在试运行完成后接入 apply only after a finished dry run")
            return redirect("admin:onboarding_progress", pk=dry.pk)
        run = uploads.queue_apply(request.user, dry)
        uploads.kick()
        return redirect("admin:onboarding_progress", pk=run.pk)
