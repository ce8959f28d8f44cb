from django.contrib.auth import views as auth_views
from django.urls import path
from django.views.i18n import set_language

from keiyaku.web.views import boxes, mailbox, signing, staff, templates, verify

urlpatterns = [
    path("", staff.contract_list, name="contract-list"),
    # login/ and the rest of sign-in: keiyaku/signin/urls.py
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("contracts/new/", staff.contract_create, name="contract-create"),
    path("contracts/<uuid:contract_id>/", staff.contract_detail, name="contract-detail"),
    path("contracts/<uuid:contract_id>/send/", staff.contract_send, name="contract-send"),
    path("contracts/<uuid:contract_id>/parties/", staff.party_add, name="party-add"),
    path("contracts/<uuid:contract_id>/cancel/", staff.contract_cancel, name="contract-cancel"),
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
    path("contracts/<uuid:contract_id>/remind/", staff.contract_remind, name="contract-remind"),
    path(
        "contracts/<uuid:contract_id>/parties/<int:party_id>/parallel/",
        staff.party_parallel,
        name="party-parallel",
    ),
    path(
        "contracts/<uuid:contract_id>/parties/<int:party_id>/unlock/",
        staff.party_unlock,
        name="party-unlock",
    ),
    path(
        "contracts/<uuid:contract_id>/parties/<int:party_id>/email/",
        staff.party_email,
        name="party-email",
    ),
    path(
        "contracts/<uuid:contract_id>/parties/<int:party_id>/remove/",
        staff.party_remove,
        name="party-remove",
    ),
    path(
        "contracts/<uuid:contract_id>/parties/<int:party_id>/move/",
        staff.party_move,
        name="party-move",
    ),
    path("contracts/<uuid:contract_id>/documents/", staff.document_add, name="document-add"),
    path(
        "contracts/<uuid:contract_id>/documents/<int:document_id>/remove/",
        staff.document_remove,
        name="document-remove",
    ),
    path(
        "contracts/<uuid:contract_id>/documents/<int:document_id>/<str:which>.pdf",
        staff.document_download,
        name="document-download",
    ),
    path(
        "contracts/<uuid:contract_id>/documents/<int:document_id>/pages/<int:page>.png",
        staff.document_page,
        name="document-page",
    ),
    path(
        "contracts/<uuid:contract_id>/certificate.pdf",
        staff.certificate_download,
        name="certificate-download",
    ),
    path(
        "contracts/<uuid:contract_id>/shares/",
        staff.contract_share_add,
        name="contract-share-add",
    ),
    path(
        "contracts/<uuid:contract_id>/shares/<int:share_id>/remove/",
        staff.contract_share_remove,
        name="contract-share-remove",
    ),
    path("mailbox/", mailbox.mailbox, name="mailbox"),
    path(
        "mailbox/attachments/<int:attachment_id>/",
        mailbox.mailbox_attachment,
        name="mailbox-attachment",
    ),
    path("s/<str:token>/", signing.sign_entry, name="sign-entry"),
    path("s/<str:token>/documents/", signing.sign_documents, name="sign-documents"),
    path(
        "s/<str:token>/documents/<int:document_id>/pages/<int:page>.png",
        signing.sign_page,
        name="sign-page",
    ),
    path(
        "s/<str:token>/documents/<int:document_id>/download/",
        signing.sign_download,
        name="sign-download",
    ),
    path("s/<str:token>/confirm/", signing.sign_confirm, name="sign-confirm"),
    path("s/<str:token>/complete/", signing.sign_complete, name="sign-complete"),
    path("s/<str:token>/reject/", signing.sign_reject, name="sign-reject"),
    path("s/<str:token>/forward/", signing.sign_forward, name="sign-forward"),
    path("d/<str:token>/", signing.download_entry, name="download-entry"),
    path("verify/", verify.verify, name="verify"),
    path("i18n/setlang/", set_language, name="set_language"),
]
