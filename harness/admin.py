"""The Django admin as a user drives it over HTTP through nginx (forms with their CSRF
token, uploads as multipart), and psql in the stack's database to count what it stored."""

import http.client
import re
import uuid
from html.parser import HTMLParser
from urllib.parse import urlencode

from harness.stacks import PUBLIC_HOST, VIA_HTTPS
from harness.template import admin_path, project_env


def superuser(name):
    """DJANGO_SUPERUSER_* for .env: the superuser ensure_superuser creates after migrate."""
    return {"DJANGO_SUPERUSER_USERNAME": name, "DJANGO_SUPERUSER_EMAIL": f"{name}@example.com",
            "DJANGO_SUPERUSER_PASSWORD": f"pw-{uuid.uuid4().hex}"}  # fmt: skip


class FormFields(HTMLParser):
    """The values a browser would submit from a page's form: text and hidden inputs, ticked
    boxes, chosen options (file inputs are the caller's)."""

    def __init__(self):
        super().__init__()
        self.fields, self.select = [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        kind = attrs.get("type", "text")
        if tag == "input" and attrs.get("name") and kind not in ("file", "submit", "button"):
            if kind not in ("checkbox", "radio"):
                self.fields.append((attrs["name"], attrs.get("value", "")))
            elif "checked" in attrs:
                self.fields.append((attrs["name"], attrs.get("value", "on")))
        elif tag == "select":
            self.select = attrs.get("name")
        elif tag == "option" and self.select and "selected" in attrs:
            self.fields.append((self.select, attrs.get("value", "")))

    def handle_endtag(self, tag):
        if tag == "select":
            self.select = None


class Admin:
    """A browser's side of the admin: its cookies, and forms posted with their CSRF token,
    over plain HTTP to nginx as a TLS-ending load balancer would (X-Forwarded-Proto)."""

    def __init__(self, stack, superuser):
        self.port = int(stack.base_url.rpartition(":")[2])
        self.path = admin_path(stack.project)
        self.superuser = superuser
        self.cookies = {}

    def request(self, method, path, form=None, files=None):
        """(status, Location, body) of a request to the admin; `files` ({field: (name,
        bytes)}) makes the form multipart."""
        headers = {**VIA_HTTPS, "Origin": f"https://{PUBLIC_HOST}",
                   "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}  # fmt: skip
        body = None
        if form is not None:
            fields = [*(form.items() if isinstance(form, dict) else form),
                      ("csrfmiddlewaretoken", self.cookies["csrftoken"])]  # fmt: skip
            if files:
                body, headers["Content-Type"] = multipart(fields, files)
            else:
                body = urlencode(fields, True)
                headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            connection.request(method, self.path + path, body, headers)
            response = connection.getresponse()
            answer = response.read()
        finally:
            connection.close()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                cookie, _, value = value.partition(";")[0].partition("=")
                self.cookies[cookie] = value
        return response.status, response.getheader("Location", ""), answer

    def log_in(self):
        self.request("GET", "login/")
        user = self.superuser
        form = {"username": user["DJANGO_SUPERUSER_USERNAME"],
                "password": user["DJANGO_SUPERUSER_PASSWORD"], "next": self.path}  # fmt: skip
        status, _, _ = self.request("POST", "login/", form)
        assert status == 302 and "sessionid" in self.cookies, status
        return self

    def add_user(self):
        """The new user's id, once the app has acknowledged it (its change page, by 302);
        None for any other answer."""
        form = {"username": f"u-{uuid.uuid4().hex[:12]}", "usable_password": "false",
                "password1": "", "password2": "", "_save": "Save"}  # fmt: skip
        try:
            status, location, _ = self.request("POST", "users/user/add/", form)
        except OSError:
            return None
        added = re.fullmatch(rf"{re.escape(self.path)}users/user/(\d+)/change/", location)
        return int(added[1]) if status == 302 and added else None

    def set_avatar(self, user_id, name, content):
        """The user's change form submitted as the page has it, with `content` as the
        avatar, saved."""
        page = f"users/user/{user_id}/change/"
        parser = FormFields()
        parser.feed(self.request("GET", page)[2].decode())
        fields = [(k, v) for k, v in parser.fields if k != "csrfmiddlewaretoken"]
        form = [*fields, ("_save", "Save")]
        status, _, answer = self.request("POST", page, form, files={"avatar": (name, content)})
        errors = re.findall(r'<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', answer.decode(), re.S)
        assert status == 302, f"{status}: {errors or answer[:2000]}"

    def delete_users(self, ids):
        """The admin list's bulk delete, confirmed: logs each deletion, then deletes."""
        form = {"action": "delete_selected", "_selected_action": ids, "post": "yes", "index": 0}
        try:
            return self.request("POST", "users/user/", form)[0]
        except OSError as error:
            return error


def multipart(fields, files):
    """A multipart/form-data body and its Content-Type, as a browser sends a form."""
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
             .encode() for name, value in fields]  # fmt: skip
    for field, (filename, content) in files.items():
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; '
            f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
        )
        parts.append(head.encode() + content + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def psql(stack, sql):
    """The rows psql prints for `sql` in the stack's database, as words."""
    env = project_env(stack.project)
    user, database = env["POSTGRES_USER"], env["POSTGRES_DB"]
    result = stack.compose("exec", "-T", "db", "psql", "-U", user, "-d", database,
                           "-v", "ON_ERROR_STOP=1", "-Atc", sql)  # fmt: skip
    return result.stdout.split()
