from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.module_loading import import_string

from . import engines, failures, pausing, processes, recurring, retries
from .forms import FailureFilterForm
from .models import BackgroundWork, Failure, Heartbeat, Recovery


@admin.register(Heartbeat)
class HeartbeatAdmin(admin.ModelAdmin):
    list_display = [
        "process_id",
        "worker_id",
        "hostname",
        "pid",
        "threads",
        "started_at",
        "seen_at",
    ]
    readonly_fields = list_display

    def has_add_permission(self, request):
        return False


# The due-later page lists the soonest this many; its count covers them all.
LATER_SHOWN = 100
# The overview lists this many worker processes, and tasks recovered from dead ones.
WORKERS_SHOWN = RECOVERED_SHOWN = 50
# And the latest this many staff actions, from the admin's history.
HISTORY_SHOWN = 20


@admin.register(BackgroundWork)
class BackgroundWorkAdmin(admin.ModelAdmin):
    """The operator's view of the background work: queues, failed tasks, a task's attempts.
    Viewing needs worker.view_backgroundwork; acting, worker.change_backgroundwork. Every
    action is a POST, and is written to the admin's history."""

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("", view(self.overview), name="worker_backgroundwork_changelist"),
            path("queues/<str:name>/pause/", view(self.pause), name="worker_pause"),
            path("queues/<str:name>/resume/", view(self.resume), name="worker_resume"),
            path("later/", view(self.later), name="worker_later"),
            path("later/<str:result_id>/run-now/", view(self.run_now), name="worker_run_now"),
            path("failed/", view(self.failed), name="worker_failed"),
            path("failed/act/", view(self.act_on_failed), name="worker_failed_act"),
            path("tasks/<str:result_id>/", view(self.task), name="worker_task"),
        ]

    def context(self, request, title, **extra):
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "can_change": self.has_change_permission(request),
            **extra,
        }

    def require(self, request, change=False):
        allowed = (
            self.has_change_permission(request) if change else self.has_view_permission(request)
        )
        if not allowed:
            raise PermissionDenied

    @staticmethod
    def engine_did_not_answer(request, error):
        messages.error(request, f"The task engine did not answer: {type(error).__name__}.")

    def log(self, request, message: str, object_id=None, object_repr="background work"):
        LogEntry.objects.create(
            user_id=request.user.pk,
            content_type=ContentType.objects.get_for_model(BackgroundWork),
            object_id=object_id,
            object_repr=object_repr[:200],
            action_flag=CHANGE,
            change_message=message,
        )

    def overview(self, request):
        self.require(request)
        served_by = processes.served_by()
        paused = pausing.paused_queues()
        engine = engines.current()
        try:
            stats = engine.queue_stats(list(served_by))
            workers = engine.workers(WORKERS_SHOWN)
        except retries.UNREACHABLE as error:  # The page still shows failures and history.
            self.engine_did_not_answer(request, error)
            stats, workers = [], []
        rows = [(each, served_by[each.name], each.name in paused) for each in stats]
        context = self.context(
            request,
            "Background work",
            rows=rows,
            failed_count=failures.open_failures().count(),
            recurring=recurring.recurring(),
            workers=[(each, processes.process_type_of(each.queues)) for each in workers],
            recovered=Recovery.objects.order_by("-recovered_at")[:RECOVERED_SHOWN],
            history=LogEntry.objects.filter(
                content_type=ContentType.objects.get_for_model(BackgroundWork)
            )
            .select_related("user")
            .order_by("-action_time")[:HISTORY_SHOWN],
        )
        return TemplateResponse(request, "admin/worker/overview.html", context)

    @staticmethod
    def known_queue(name: str) -> str:
        if name not in processes.served_by():
            raise Http404("No such queue.")
        return name

    @staticmethod
    def back_to_overview():
        return HttpResponseRedirect(reverse("admin:worker_backgroundwork_changelist"))

    def pause(self, request, name):
        return self.set_paused(request, name, paused=True)

    def resume(self, request, name):
        return self.set_paused(request, name, paused=False)

    def set_paused(self, request, name, *, paused):
        if request.method != "POST":
            return self.back_to_overview()  # A GET changes nothing.
        self.require(request, change=True)
        name = self.known_queue(name)
        changed = pausing.pause(name) if paused else pausing.resume(name)
        verb = "Paused" if paused else "Resumed"
        if changed:
            self.log(request, f"{verb} the {name} queue.", object_id=name, object_repr=name)
            messages.success(request, f"{verb} the {name} queue.")
        return self.back_to_overview()

    def later(self, request):
        self.require(request)
        try:
            count, first = engines.current().due_later(LATER_SHOWN)
        except retries.UNREACHABLE as error:
            self.engine_did_not_answer(request, error)
            count, first = 0, []
        context = self.context(request, "Due later", count=count, later=first, shown=LATER_SHOWN)
        return TemplateResponse(request, "admin/worker/later.html", context)

    def run_now(self, request, result_id):
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:worker_later"))
        self.require(request, change=True)
        try:
            made_due = engines.current().run_now(result_id)
        except retries.UNREACHABLE as error:
            self.engine_did_not_answer(request, error)
            return HttpResponseRedirect(reverse("admin:worker_later"))
        if made_due:
            message = f"Made {result_id} due now."
            self.log(request, message, object_id=result_id, object_repr=result_id)
            messages.success(request, message)
        else:
            messages.warning(request, "Nothing to do: it is no longer waiting.")
        return HttpResponseRedirect(reverse("admin:worker_later"))

    @staticmethod
    def filtered(data):
        form = FailureFilterForm(data or None)
        found = failures.open_failures()
        if form.is_bound:
            found = form.filter(found) if form.is_valid() else found.none()
        return form, found

    def failed(self, request):
        self.require(request)
        form, found = self.filtered(request.GET)
        page = Paginator(found, 50).get_page(request.GET.get("page"))
        context = self.context(
            request,
            "Failed tasks",
            form=form,
            page=page,
            filter_query=form.query() if form.is_valid() else "",
        )
        return TemplateResponse(request, "admin/worker/failed.html", context)

    def act_on_failed(self, request):
        if request.method != "POST":
            return HttpResponseRedirect(reverse("admin:worker_failed"))
        self.require(request, change=True)
        action = request.POST.get("action")
        if action not in ("retry", "discard"):
            raise Http404("No such action.")
        if "result_id" in request.POST:
            chosen = failures.open_failures().filter(result_id=request.POST["result_id"])
            description = None
        else:
            form, chosen = self.filtered(request.POST)
            if not form.is_valid():
                raise Http404("No such filter.")
            description = form.describe()
            if request.POST.get("confirmed") != "yes":
                context = self.context(
                    request,
                    f"{action.capitalize()} failed tasks?",
                    action=action,
                    count=chosen.count(),
                    limit=failures.BULK_LIMIT,
                    description=description,
                    form=form,
                )
                return TemplateResponse(request, "admin/worker/confirm.html", context)
        done = gone = 0
        unreachable = False
        for failure in chosen[: failures.BULK_LIMIT]:
            if action == "discard":
                done += failures.discard(failure)
            elif failures.task_of(failure) is None:
                gone += 1
            else:
                reason = f"Retried by {request.user.get_username()} from the admin."
                try:
                    done += failures.retry(failure, reason=reason) is not None
                except retries.UNREACHABLE:
                    unreachable = True
                    messages.error(
                        request,
                        "The task engine didn't answer: what wasn't retried is still on the "
                        "list. Try again when it is back.",
                    )
                    break
        if gone:
            messages.error(
                request,
                f"{gone} failed task(s) can't be retried: their task no longer exists in the "
                "code (renamed or removed). Discard them.",
            )
        verb = "Retried" if action == "retry" else "Discarded"
        if description is None:
            failure = Failure.objects.filter(result_id=request.POST["result_id"]).first()
            what = failure.task_name if failure else request.POST["result_id"]
            message = f"{verb} {what} ({request.POST['result_id']})." if done else ""
            object_id = request.POST["result_id"]
        else:
            message = f"{verb} {done} failed task(s): {description}."
            what, object_id = f"{done} failed task(s)", None
        if done:
            self.log(request, message, object_id=object_id, object_repr=what)
            messages.success(request, message)
        elif not (gone or unreachable):
            messages.warning(request, "Nothing to do: retried or discarded already.")
        return HttpResponseRedirect(reverse("admin:worker_failed"))

    def task(self, request, result_id):
        self.require(request)
        failure = Failure.objects.filter(result_id=result_id).first()
        first = retries.first_id(result_id)
        task_path = (
            failure.task_path
            if failure
            else retries.task_path_of(first) or engines.current().task_path(result_id)
        )
        if task_path is None:
            raise Http404("No task result with this id is known here.")
        try:
            task = import_string(task_path)
        except ImportError:
            raise Http404("This task no longer exists in the code.") from None
        attempts = [
            (number, attempt_id, retries.result_or_none(task, attempt_id), reason)
            for number, (attempt_id, reason) in enumerate(retries.chain(first), start=1)
        ]
        context = self.context(
            request,
            f"{task.name}: its attempts",
            task=task,
            failure=failure,
            attempts=attempts,
            open_failure=failures.open_failures().filter(result_id=attempts[-1][1]).first(),
        )
        return TemplateResponse(request, "admin/worker/task.html", context)
