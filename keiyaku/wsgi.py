import os

from django.core.wsgi import get_wsgi_application

from keiyaku.operations.allocator import allocator_configure

allocator_configure()  # large files: see the module
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "keiyaku.settings")
application = get_wsgi_application()
