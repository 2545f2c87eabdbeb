/* The rich-text editor of the staff pages: every <textarea data-rich-text> becomes a Quill editor
   (the vendored app/static/vendor/quill/quill.js, snow theme) whose HTML is written back into the
   textarea as it changes, so the form submits it as usual; the server sanitises it again
   (app/richtext.py). Images are uploaded to the textarea's data-upload-url with the
   CSRF token of <meta name="csrf-token">, and the URL the server answers is inserted. No inline
   script or style attribute is needed (Content-Security-Policy). Without Quill, or without
   JavaScript, the textarea stays a textarea. */
(function () {
  "use strict";

  if (typeof window.Quill === "undefined") {
    return;
  }
  var Quill = window.Quill;
  var Delta = Quill.import("delta");

  // What the sanitiser keeps (headings h2-h4, emphasis, code, quotes, lists, links, images).
  var FORMATS = [
    "header", "bold", "italic", "underline", "strike", "code",
    "blockquote", "code-block", "list", "indent", "link", "image"
  ];
  var TOOLBAR = [
    [{ header: [2, 3, 4, false] }],
    ["bold", "italic", "underline", "strike", "code"],
    ["blockquote", "code-block"],
    [{ list: "ordered" }, { list: "bullet" }, { indent: "-1" }, { indent: "+1" }],
    ["link", "image"],
    ["clean"]
  ];
  var IMAGE_TYPES = ["image/jpeg", "image/png", "image/webp"];

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // The editor's content as clean HTML, "" when it is empty.
  function editorHtml(quill) {
    if (quill.getLength() <= 1) {
      return "";
    }
    // Quill 2.0.3 writes every space of the text as &nbsp;, which would keep lines from wrapping.
    return quill.getSemanticHTML().replace(/&nbsp;/g, " ");
  }

  function upload(url, file) {
    var body = new FormData();
    body.append("image", file);
    return fetch(url, {
      method: "POST",
      body: body,
      credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "Accept": "application/json" }
    }).then(function (response) {
      return response.json().catch(function () {
        return {};
      }).then(function (answer) {
        if (!response.ok || !answer.url) {
          throw new Error(answer.message || "The image could not be uploaded (" + response.status + ").");
        }
        return answer.url;
      });
    });
  }

  function enhance(textarea) {
    if (textarea.getAttribute("data-rich-text-ready") !== null) {
      return;
    }
    textarea.setAttribute("data-rich-text-ready", "");
    var uploadUrl = textarea.getAttribute("data-upload-url");

    var holder = document.createElement("div");
    holder.className = "rich-text-editor";
    var editor = document.createElement("div");
    var problem = document.createElement("div");
    problem.className = "alert alert-danger mt-2 mb-0";
    problem.setAttribute("role", "alert");
    problem.hidden = true;
    holder.appendChild(editor);
    holder.appendChild(problem);
    textarea.parentNode.insertBefore(holder, textarea.nextSibling);

    function showProblem(message) {
      problem.textContent = message;
      problem.hidden = false;
    }

    // The server decides what is an image and says why it refuses one (in the staff's language).
    function insertImages(quill, files, index) {
      problem.hidden = true;
      if (!uploadUrl) {
        return;
      }
      files.forEach(function (file) {
        upload(uploadUrl, file).then(function (url) {
          var at = index === undefined ? quill.getSelection(true).index : index;
          quill.insertEmbed(at, "image", url, "user");
          quill.setSelection(at + 1, 0, "user");
        }).catch(function (error) {
          showProblem(error.message);
        });
      });
    }

    function chooseImage() {
      var input = document.createElement("input");
      input.type = "file";
      input.accept = IMAGE_TYPES.join(",");
      input.addEventListener("change", function () {
        if (input.files && input.files.length) {
          insertImages(quill, Array.prototype.slice.call(input.files, 0, 1));
        }
      });
      input.click();
    }

    var toolbar = TOOLBAR.map(function (group) {
      return group.filter(function (item) {
        return uploadUrl || item !== "image";
      });
    });
    var quill = new Quill(editor, {
      theme: "snow",
      formats: uploadUrl ? FORMATS : FORMATS.filter(function (f) { return f !== "image"; }),
      placeholder: textarea.getAttribute("placeholder") || "",
      modules: {
        toolbar: { container: toolbar, handlers: { image: chooseImage } },
        // Dropped or pasted image files go to the server too, never into the text as data: URLs.
        uploader: {
          mimetypes: IMAGE_TYPES,
          handler: function (range, files) {
            insertImages(quill, files, range.index);
          }
        }
      }
    });
    // Pasted HTML may carry images as data: or blob: URLs, which the server would drop anyway.
    quill.clipboard.addMatcher("IMG", function (node, delta) {
      var src = node.getAttribute("src") || "";
      return /^(data|blob):/i.test(src) ? new Delta() : delta;
    });

    if (textarea.value.trim()) {
      quill.setContents(quill.clipboard.convert({ html: textarea.value }), "silent");
    }
    // The editor's height follows the textarea's rows (CSSOM, which the policy allows).
    quill.root.style.minHeight = (parseInt(textarea.getAttribute("rows"), 10) || 10) * 1.5 + "em";
    textarea.hidden = true;
    textarea.required = false; // a hidden control cannot show the browser's message; the server checks
    quill.on("text-change", function () {
      textarea.value = editorHtml(quill);
    });

    if (textarea.id && window.CSS && window.CSS.escape) {
      var label = document.querySelector('label[for="' + window.CSS.escape(textarea.id) + '"]');
      if (label) {
        label.addEventListener("click", function (event) {
          event.preventDefault();
          quill.focus();
        });
      }
    }
  }

  function enhanceAll(root) {
    var found = root.querySelectorAll ? root.querySelectorAll("textarea[data-rich-text]") : [];
    Array.prototype.forEach.call(found, function (textarea) {
      // Flask-Admin keeps inline forms to copy in a template: only copies become editors.
      if (!textarea.closest(".inline-field-template")) {
        enhance(textarea);
      }
    });
  }

  function start() {
    enhanceAll(document);
    // Inline forms added later ("Add ...") bring their own textareas.
    new MutationObserver(function (changes) {
      changes.forEach(function (change) {
        Array.prototype.forEach.call(change.addedNodes, function (node) {
          // Skip what the editors themselves add as staff type.
          if (node.nodeType === 1 && !node.closest(".rich-text-editor")) {
            if (node.matches("textarea[data-rich-text]")) {
              enhanceAll(node.parentNode);
            } else {
              enhanceAll(node);
            }
          }
        });
      });
    }).observe(document.body, { childList: true, subtree: true });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
