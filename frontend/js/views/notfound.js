import { h, mount } from "../dom.js";
import { empty } from "../components/states.js";

export async function render(root, ctx) {
  ctx.setTitle("Not found");
  mount(root, h("h1", { class: "visually-hidden", text: "Page not found" }), empty("This page does not exist", "", h("a", { class: "button", href: "#/home", text: "Go home" })));
}
