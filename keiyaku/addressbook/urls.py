from django.urls import path

from keiyaku.addressbook import views

app_name = "addressbook"

urlpatterns = [
    path("", views.address_book, name="list"),
    path("companies/new/", views.company_create, name="company-create"),
    path("companies/<int:company_id>/", views.company_detail, name="company"),
    path("companies/<int:company_id>/edit/", views.company_edit, name="company-edit"),
    path("companies/<int:company_id>/delete/", views.company_delete, name="company-delete"),
    path("companies/<int:company_id>/contacts/new/", views.contact_create, name="contact-create"),
    path("contacts/<int:contact_id>/edit/", views.contact_edit, name="contact-edit"),
    path("contacts/<int:contact_id>/delete/", views.contact_delete, name="contact-delete"),
    path("import/", views.contacts_import, name="import"),
    path("export.csv", views.contacts_export, name="export"),
    path("contracts/<uuid:contract_id>/parties/", views.pick_contact, name="pick"),
]
