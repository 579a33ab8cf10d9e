"""Job routes: list jobs, read one (the Logic App polling contract), cancel one, decide on an approval; audit log."""

from __future__ import annotations

import re

import azure.durable_functions as df
import azure.functions as func

from functions.api.http import RETRY_AFTER, Api, job_location, json_body, json_response, page_size, problem_response
from functions.auth import Permission
from functions.errors import JOB_CANCELED, JOB_FAILED, InvalidQuery
from functions.models.decisions import parse_decision
from functions.models.jobs import JobStatus
from functions.models.problems import Problem
from functions.provisioning.approvals import Decision
from functions.services.audit import Caller
from functions.services.bundle import Services
from functions.services.jobs import JobFilters
from functions.workflows.starter import DurableWorkflows

__all__ = ["blueprint"]

_LOG_TOKEN = re.compile(r"[0-9]{20}-[0-9a-f]{8}")


def job_filters(req: func.HttpRequest) -> JobFilters:
    """The job list filters of a request."""
    status_text = req.params.get("status")
    status: JobStatus | None = None
    if status_text is not None:
        try:
            status = JobStatus(status_text)
        except ValueError:
            raise InvalidQuery("see errors", [Problem("status", "is not a job status")]) from None
    return JobFilters(
        status=status,
        kind=req.params.get("kind"),
        vm_id=req.params.get("vm_id"),
        requested_by=req.params.get("requested_by"),
    )


def blueprint(api: Api) -> df.Blueprint:
    """The job and audit routes."""
    bp = df.Blueprint()

    @bp.route(route="api/v1/jobs", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
    def api_list_jobs(req: func.HttpRequest) -> func.HttpResponse:
        """Jobs, newest first; filters ``status``, ``kind``, ``vm_id``, ``requested_by``; paging beyond 100."""

        def body(s: Services, _: Caller) -> func.HttpResponse:
            found = s.jobs.list(job_filters(req), page_size=page_size(req), continuation=req.params.get("continuation"))
            return json_response({"items": [j.to_json() for j in found.items], "continuation": found.continuation})

        return api.read(req, Permission.READER, body)

    @bp.route(route="api/v1/jobs/{job_id}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
    @bp.durable_client_input(client_name="client")
    async def api_get_job(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
        """One job: 202 while it runs, 200 when it succeeded, 422 (failed) or 409 (canceled) problem+json otherwise."""
        job_id = req.route_params["job_id"]

        def body(s: Services, _: Caller, workflows: DurableWorkflows) -> func.HttpResponse:
            state = s.jobs.state(workflows, job_id)
            view, job = state.to_view(), state.job
            if job.status == JobStatus.SUCCEEDED:
                return json_response(view)
            if job.status in (JobStatus.FAILED, JobStatus.CANCELED):
                error = job.error
                kind = JOB_CANCELED if job.status == JobStatus.CANCELED else JOB_FAILED
                detail = (
                    f"{error.category if error else 'Error'}: {error.message if error else 'the job did not succeed'}"
                )
                return problem_response(kind.status, kind.title, detail, kind=kind.uri, extra={"job": view})
            headers = {"Location": job_location(req, job.id), "Retry-After": RETRY_AFTER}
            return json_response(view, 202, headers)

        return await api.read_async(req, client, Permission.READER, body)

    @bp.route(route="api/v1/jobs/{job_id}/log", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
    def api_job_log(req: func.HttpRequest) -> func.HttpResponse:
        """The job's log after ``after`` (the ``next`` of an earlier page), up to ``limit`` entries, oldest first."""
        job_id = req.route_params["job_id"]

        def body(s: Services, _: Caller) -> func.HttpResponse:
            after = req.params.get("after")
            if after is not None and not _LOG_TOKEN.fullmatch(after):
                raise InvalidQuery("see errors", [Problem("after", "is not a token of this job's log")])
            limit = page_size(req, default=200, maximum=1000)
            return json_response(s.jobs.log(job_id, after=after, limit=limit))

        return api.read(req, Permission.READER, body)

    @bp.route(route="api/v1/jobs/{job_id}/cancel", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
    @bp.durable_client_input(client_name="client")
    async def api_cancel_job(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
        """Cancel a running job (its own requester or an admin); it compensates what it created."""
        job_id = req.route_params["job_id"]

        def body(s: Services, caller: Caller, workflows: DurableWorkflows) -> func.HttpResponse:
            view = s.jobs.cancel(workflows, job_id, caller).to_view()
            return json_response(view, 202, {"Location": job_location(req, job_id), "Retry-After": RETRY_AFTER})

        target = {"job_id": job_id}
        return await api.write(req, client, action="cancel_job", target=target, required=Permission.OPERATOR, body=body)

    def decision_route(decision: Decision) -> None:
        verb = "approve" if decision == "approved" else "reject"

        async def handler(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
            job_id = req.route_params["job_id"]

            def body(s: Services, caller: Caller, workflows: DurableWorkflows) -> func.HttpResponse:
                request = parse_decision(json_body(req, required=False), rejecting=decision == "rejected")
                separate = s.auth_settings.mode != "none"  # locally every caller is the same local developer
                state = s.jobs.decide(
                    workflows, job_id, caller, decision, reason=request.reason, separate_duties=separate
                )
                headers = {"Location": job_location(req, job_id), "Retry-After": RETRY_AFTER}
                return json_response(state.to_view(), 202, headers)

            target = {"job_id": job_id}
            response: func.HttpResponse = await api.write(
                req, client, action=f"{verb}_job", target=target, required=Permission.ADMIN, body=body
            )
            return response

        handler.__name__ = handler.__qualname__ = f"api_{verb}_job"
        handler.__doc__ = (
            f"{verb.capitalize()} a create awaiting approval (Admin, not its requester); 202 with the job."
        )
        decorated = bp.durable_client_input(client_name="client")(handler)
        bp.function_name(name=f"api_{verb}_job")(
            bp.route(route=f"api/v1/jobs/{{job_id}}/{verb}", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)(
                decorated
            )
        )

    decision_route("approved")
    decision_route("rejected")

    @bp.route(route="api/v1/audit", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
    def api_list_audit(req: func.HttpRequest) -> func.HttpResponse:
        """The audit log, newest first (admins only); ``actor`` filters by object id."""

        def body(s: Services, _: Caller) -> func.HttpResponse:
            found = s.audit.log.list(
                page_size=page_size(req), continuation=req.params.get("continuation"), actor_id=req.params.get("actor")
            )
            return json_response({"items": [r.to_json() for r in found.items], "continuation": found.continuation})

        return api.read(req, Permission.ADMIN, body)

    return bp
