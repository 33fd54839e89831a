import DOMPurify from "dompurify";
import { Marked, type Tokens } from "marked";
import { memo, useMemo } from "react";

export function escapeHtml(text: string): string {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&#39;");
}

/*
 * Markdown from the model is untrusted. Raw HTML in it is shown as text; what marked
 * renders then goes through DOMPurify, which keeps only harmless elements and attributes
 * and links with these schemes. Images load only over http(s), without a referrer.
 */
const SAFE_URL = /^(?:https?:|mailto:|#|\/(?!\/))/i;
const IMAGE_URL = /^https?:/i;

const markdown = new Marked({
  gfm: true,
  breaks: false,
  renderer: {
    html({ text }: Tokens.HTML | Tokens.Tag) {
      return escapeHtml(text);
    },
  },
});

const purify = DOMPurify();
purify.addHook("afterSanitizeAttributes", (node) => {
  if (node.tagName === "A") {
    if (!node.hasAttribute("href")) {
      node.replaceWith(...node.childNodes);
      return;
    }
    node.setAttribute("target", "_blank");
    node.setAttribute("rel", "noopener noreferrer");
  }
  if (node.tagName === "IMG") {
    if (!IMAGE_URL.test(node.getAttribute("src")?.trim() ?? "")) {
      node.replaceWith(node.getAttribute("alt") ?? "");
      return;
    }
    node.setAttribute("loading", "lazy");
    node.setAttribute("referrerpolicy", "no-referrer");
  }
});

export function renderMarkdown(text: string): string {
  const html = markdown.parse(text, { async: false });
  return purify.sanitize(typeof html === "string" ? html : "", {
    ALLOWED_URI_REGEXP: SAFE_URL,
    FORBID_TAGS: ["style", "form", "input", "button", "textarea", "select"],
    FORBID_ATTR: ["style"],
  });
}

export const Markdown = memo(function Markdown({ text, className }: { text: string; className?: string }) {
  const html = useMemo(() => renderMarkdown(text), [text]);
  // biome-ignore lint/security/noDangerouslySetInnerHtml: renderMarkdown's output went through DOMPurify.
  return <div className={`markdown ${className ?? ""}`} dangerouslySetInnerHTML={{ __html: html }} />;
});
