from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.i18n import set_language

from keiyaku.web.views import (
    boxes,
    contracts,
    custom_fields,
    exports,
    imports,
    mailbox,
    party_link,
    preview,
    renewals,
    report,
    sureties,
    templates,
    trust,
    verify,
)

urlpatterns = [
    path("", contracts.contract_list, name="contract-list"),
    path("contracts/export.csv", exports.contract_export_csv, name="contract-export-csv"),
    path("contracts/export.zip", exports.contract_export_zip, name="contract-export-zip"),
    # login/ and the rest of sign-in: keiyaku/login/urls.py
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("contracts/new/", contracts.contract_create, name="contract-create"),
    path("contracts/import/", imports.contract_import, name="contract-import"),
    path("contracts/import/bulk/", imports.contract_import_bulk, name="contract-import-bulk"),
    path(
        "contracts/import/template.csv",
        imports.contract_import_template,
        name="contract-import-template",
    ),
    path("contracts/renewals/", renewals.contract_renewals, name="contract-renewals"),
    path("reports/monthly/", report.monthly_report_page, name="monthly-report"),
    path("reports/monthly.csv", report.monthly_report_csv, name="monthly-report-csv"),
    path("contracts/<uuid:contract_id>/", contracts.contract_detail, name="contract-detail"),
    path("contracts/<uuid:contract_id>/send/", contracts.contract_send, name="contract-send"),
    path(
        "contracts/<uuid:contract_id>/parties/<int:party_id>/preview/",
        preview.party_preview,
        name="party-preview",
    ),
    path("contracts/<uuid:contract_id>/term/", contracts.contract_term, name="contract-term"),
    path("contracts/<uuid:contract_id>/sureties/", sureties.surety_add, name="surety-add"),
    path(
        "contracts/<uuid:contract_id>/attachments/",
        sureties.attachment_add,
        name="attachment-add",
    ),
    path(
        "contracts/<uuid:contract_id>/attachments/<int:attachment_id>/",
        sureties.attachment_download,
        name="attachment-download",
    ),
    path(
        "contracts/<uuid:contract_id>/sureties/<int:surety_id>/correct/",
        sureties.surety_correct,
        name="surety-correct",
    ),
    path(
        "contracts/<uuid:contract_id>/sureties/<int:surety_id>/remove/",
        sureties.surety_remove,
        name="surety-remove",
    ),
    path(
        "contracts/<uuid:contract_id>/attachments/<int:attachment_id>/remove/",
        sureties.attachment_remove,
        name="attachment-remove",
    ),
    path(
        "contracts/<uuid:contract_id>/duplicate/",
        contracts.contract_duplicate,
        name="contract-duplicate",
    ),
    path(
        "contracts/<uuid:contract_id>/parties/<int:party_id>/access-code/",
        contracts.party_access_code,
        name="party-access-code",
    ),
    path(
        "contracts/<uuid:contract_id>/send/confirm/",
        contracts.contract_send_confirm,
        name="contract-send-confirm",
    ),
    path("contracts/<uuid:contract_id>/parties/", contracts.party_add, name="party-add"),
    path("contracts/<uuid:contract_id>/cancel/", contracts.contract_cancel, name="contract-cancel"),
    path("templates/", templates.template_list, name="template-list"),
    path("contracts/<uuid:contract_id>/boxes/", boxes.box_placement, name="box-placement"),
    path("contracts/<uuid:contract_id>/boxes.json", boxes.boxes_collection, name="box-collection"),
    path("contracts/<uuid:contract_id>/boxes/<int:box_id>.json", boxes.box_item, name="box-item"),
    path(
        "contracts/<uuid:contract_id>/save-template/",
        templates.template_save,
        name="template-save",
    ),
    path(
        "contracts/<uuid:contract_id>/apply-template/<int:template_id>/",
        templates.template_apply,
        name="template-apply",
    ),
    path("contracts/<uuid:contract_id>/remind/", contracts.contract_remind, name="contract-remind"),
    path(
        "contracts/<uuid:contract_id>/deadline/",
        contracts.contract_deadline,
        name="contract-deadline",
    ),
    path(
        "contracts/<uuid:contract_id>/parties/<int:party_id>/parallel/",
        contracts.party_parallel,
        name="party-parallel",
    ),
    path(
        "contracts/<uuid:contract_id>/parties/<int:party_id>/unlock/",
        contracts.party_unlock,
        name="party-unlock",
    ),
    path(
        "contracts/<uuid:contract_id>/parties/<int:party_id>/email/",
        contracts.party_email,
        name="party-email",
    ),
    path(
        "contracts/<uuid:contract_id>/parties/<int:party_id>/remove/",
        contracts.party_remove,
        name="party-remove",
    ),
    path(
        "contracts/<uuid:contract_id>/parties/<int:party_id>/move/",
        contracts.party_move,
        name="party-move",
    ),
    path("contracts/<uuid:contract_id>/documents/", contracts.document_add, name="document-add"),
    path(
        "contracts/<uuid:contract_id>/documents/<int:document_id>/remove/",
        contracts.document_remove,
        name="document-remove",
    ),
    path(
        "contracts/<uuid:contract_id>/documents/<int:document_id>/<str:which>.pdf",
        contracts.document_download,
        name="document-download",
    ),
    path(
        "contracts/<uuid:contract_id>/documents/<int:document_id>/pages/<int:page>.jpg",
        contracts.document_page,
        name="document-page",
    ),
    path(
        "contracts/<uuid:contract_id>/certificate.pdf",
        contracts.certificate_download,
        name="certificate-download",
    ),
    path(
        "contracts/<uuid:contract_id>/shares/",
        contracts.contract_share_add,
        name="contract-share-add",
    ),
    path(
        "contracts/<uuid:contract_id>/shares/<int:share_id>/remove/",
        contracts.contract_share_remove,
        name="contract-share-remove",
    ),
    path("mailbox/", mailbox.mailbox, name="mailbox"),
    path(
        "mailbox/attachments/<int:attachment_id>/",
        mailbox.mailbox_attachment,
        name="mailbox-attachment",
    ),
    path("s/<str:token>/", party_link.sign_entry, name="sign-entry"),
    path("s/<str:token>/documents/", party_link.sign_documents, name="sign-documents"),
    path(
        "s/<str:token>/documents/<int:document_id>/pages/<int:page>.jpg",
        party_link.sign_page,
        name="sign-page",
    ),
    path(
        "s/<str:token>/documents/<int:document_id>/download/",
        party_link.sign_download,
        name="sign-download",
    ),
    path("s/<str:token>/confirm/", party_link.sign_confirm, name="sign-confirm"),
    path("s/<str:token>/complete/", party_link.sign_complete, name="sign-complete"),
    path("s/<str:token>/reject/", party_link.sign_reject, name="sign-reject"),
    path("s/<str:token>/forward/", party_link.sign_forward, name="sign-forward"),
    path("d/<str:token>/", party_link.download_entry, name="download-entry"),
    path(
        "d/<str:token>/documents/<int:document_id>.pdf",
        party_link.download_document,
        name="download-document",
    ),
    path(
        "d/<str:token>/certificate.pdf",
        party_link.download_certificate,
        name="download-certificate",
    ),
    path("verify/", verify.verify, name="verify"),
    path("custom-fields/", custom_fields.custom_field_list, name="custom-field-list"),
    path(
        "custom-fields/<int:field_id>/", custom_fields.custom_field_list, name="custom-field-edit"
    ),
    path(
        "custom-fields/<int:field_id>/retire/",
        custom_fields.custom_field_retire_view,
        name="custom-field-retire",
    ),
    path("searches/", contracts.search_save, name="search-save"),
    path("searches/<int:saved_id>/delete/", contracts.search_delete, name="search-delete"),
    path("trust/", trust.about_trust, name="about-trust"),
    path("trust/roots/<str:sha256>.pem", trust.root_download, name="trust-root-pem"),
    path("i18n/setlang/", set_language, name="set_language"),
]
