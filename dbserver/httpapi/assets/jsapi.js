/*
 * RestKube's JavaScript API: the interface of restdb.io's generated JavaScript API
 * (https://restdb.io/docs/javascript-api), written for RestKube. It holds no secret: the page
 * passes a web (CORS) API key or a JWT token.
 *
 *   var db = new restdb("<web api key>", {realtime: true});
 *   db.tasks.find({done: false}, {$max: 10}, function (err, list) { ... });
 *   var t = new db.tasks({title: "write"}); t.save(function (err, saved) { ... });
 *   db.on("POST", function (err, evt) { ... });  // evt: {event, collection, data}
 *
 * RestKube keeps no schema, so every property of db that is not one of its methods is a
 * collection: db.anything is the class of the collection "anything" (db.collection(name) too).
 */
(function (global) {
  "use strict";

  var script = global.document && global.document.currentScript;
  // The server this script came from: where the API lives unless options.url says otherwise.
  var origin = script && script.src ? script.src.replace(/\/rest\/_jsapi\.js(\?.*)?$/, "") : "";
  var builtins = { POST: 1, PUT: 1, PATCH: 1, DELETE: 1, CONNECT: 1, DISCONNECT: 1, RECONNECT: 1 };

  function RestKubeError(status, body) {
    var e = new Error((body && body.message) || ("HTTP " + status));
    e.status = status;
    e.body = body;
    return e;
  }

  function restdb(apikey, options) {
    if (!(this instanceof restdb)) {
      return new restdb(apikey, options);
    }
    var opts = options || {};
    var base = (opts.url || origin).replace(/\/+$/, "");
    var api = this;
    var handlers = {};
    var classes = {};
    var source = null;

    function log() {
      if (opts.logging && global.console) {
        global.console.log.apply(global.console, ["restdb:"].concat([].slice.call(arguments)));
      }
    }

    function headers(json) {
      var h = {};
      if (opts.jwt) {
        h.Authorization = "Bearer " + apikey;
      } else {
        h["x-apikey"] = apikey;
      }
      if (json) {
        h["Content-Type"] = "application/json";
      }
      return h;
    }

    // call sends one request and calls back (err, parsed JSON body).
    function call(method, path, body, cb) {
      log(method, path);
      var init = { method: method, headers: headers(body !== undefined), mode: "cors" };
      if (body !== undefined) {
        init.body = JSON.stringify(body);
      }
      var p = global.fetch(base + path, init).then(function (res) {
        return res.text().then(function (text) {
          var parsed = null;
          try {
            parsed = text ? JSON.parse(text) : null;
          } catch (e) {
            parsed = { message: text };
          }
          if (!res.ok) {
            throw RestKubeError(res.status, parsed);
          }
          return parsed;
        });
      });
      if (typeof cb === "function") {
        p.then(function (v) { cb(null, v); }, function (e) { cb(e, null); });
      }
      return p;
    }

    function emit(name, err, evt) {
      (handlers[name] || []).slice().forEach(function (h) {
        try {
          h(err, evt);
        } catch (e) {
          log("handler of", name, "failed:", e);
        }
      });
    }

    function connect() {
      if (source || typeof global.EventSource !== "function") {
        return;
      }
      var cred = (opts.jwt ? "access_token=" : "apikey=") + encodeURIComponent(apikey);
      var opened = false;
      source = new global.EventSource(base + "/realtime?" + cred);
      source.onopen = function () {
        emit(opened ? "RECONNECT" : "CONNECT", null, {});
        opened = true;
      };
      source.onerror = function () {
        emit("DISCONNECT", null, {});
      };
      ["post", "put", "delete"].forEach(function (name) {
        source.addEventListener(name, function (m) {
          var evt = JSON.parse(m.data);
          emit(name.toUpperCase(), null, evt);
          if (name === "put") {
            emit("PATCH", null, evt);
          }
        });
      });
      source.addEventListener("publish", function (m) {
        var evt = JSON.parse(m.data);
        emit(evt.event, null, evt);
      });
    }

    // collection returns the class of the collection name.
    function collection(name) {
      if (classes[name]) {
        return classes[name];
      }
      var path = "/rest/" + encodeURIComponent(name);

      function Doc(props) {
        if (!(this instanceof Doc)) {
          return new Doc(props);
        }
        assign(this, props);
      }
      Doc.collection = name;

      function wrap(v) {
        return v && typeof v === "object" && !Array.isArray(v) ? new Doc(v) : v;
      }

      // find(query, hints, cb): the documents matching query (restdb.io's q and h).
      Doc.find = function (query, hints, cb) {
        if (typeof hints === "function") {
          cb = hints;
          hints = null;
        }
        var qs = "?q=" + encodeURIComponent(JSON.stringify(query || {}));
        if (hints) {
          qs += "&h=" + encodeURIComponent(JSON.stringify(hints));
        }
        return done(call("GET", path + qs).then(function (list) {
          return Array.isArray(list) ? list.map(wrap) : list;
        }), cb);
      };
      // getById(id, cb): one document.
      Doc.getById = function (id, cb) {
        return done(call("GET", path + "/" + encodeURIComponent(id)).then(wrap), cb);
      };
      Doc.on = function (evt, cb) {
        api.on(evt, function (err, e) {
          if (!e || !e.collection || e.collection === name) {
            cb(err, e);
          }
        });
      };

      Doc.prototype.save = function (cb) {
        var self = this;
        var body = plain(self);
        var p = self._id ?
          call("PUT", path + "/" + encodeURIComponent(self._id), body) :
          call("POST", path, body);
        return done(p.then(function (saved) {
          assign(self, saved);
          return self;
        }), cb);
      };
      Doc.prototype.delete = function (cb) {
        var id = this._id;
        return done(call("DELETE", path + "/" + encodeURIComponent(id)).then(function () {
          return id;
        }), cb);
      };
      Doc.prototype.reload = function (cb) {
        var self = this;
        return done(call("GET", path + "/" + encodeURIComponent(self._id)).then(function (d) {
          assign(self, d);
          return self;
        }), cb);
      };
      Doc.prototype.on = function (evt, cb) {
        var self = this;
        Doc.on(evt, function (err, e) {
          var ids = e && Array.isArray(e.data) ? e.data : [e && e.data];
          if (ids.indexOf(self._id) >= 0) {
            cb(err, e);
          }
        });
      };
      // addChild(field, child, cb) and getChild(field, cb): restdb.io's obj[field].addChild and
      // obj[field].getChild, as methods that take the child-list field's name.
      Doc.prototype.addChild = function (field, child, cb) {
        return done(call("POST", path + "/" + encodeURIComponent(this._id) + "/" + encodeURIComponent(field), plain(child)).then(function (saved) {
          assign(child, saved);
          return child;
        }), cb);
      };
      Doc.prototype.getChild = function (field, cb) {
        return done(call("GET", path + "/" + encodeURIComponent(this._id) + "/" + encodeURIComponent(field)).then(function (list) {
          var cls = collection(field);
          return (list || []).map(function (d) { return new cls(d); });
        }), cb);
      };
      classes[name] = Doc;
      return Doc;
    }

    function done(p, cb) {
      if (typeof cb === "function") {
        p.then(function (v) { cb(null, v); }, function (e) { cb(e, null); });
      }
      return p;
    }

    this.collection = collection;
    this.on = function (evt, cb) {
      var key = builtins[String(evt).toUpperCase()] ? String(evt).toUpperCase() : String(evt);
      (handlers[key] = handlers[key] || []).push(cb);
      if (opts.realtime) {
        connect();
      }
    };
    this.publish = function (evt, data, cb) {
      return call("POST", "/realtime", { event: evt, data: data }, cb);
    };
    this.close = function () {
      if (source) {
        source.close();
        source = null;
      }
    };
    if (opts.realtime) {
      connect();
    }

    if (typeof global.Proxy !== "function") {
      return this;
    }
    return new global.Proxy(this, {
      get: function (target, prop, receiver) {
        // "then" and "toJSON" stay undefined, so that db is not taken for a promise or serialized oddly.
        if (typeof prop !== "string" || prop in target || prop === "then" || prop === "toJSON" ||
            !/^[A-Za-z][A-Za-z0-9_-]{0,63}$/.test(prop)) {
          return Reflect.get(target, prop, receiver);
        }
        return collection(prop);
      }
    });
  }

  // plain copies an object's own fields, without functions: what is sent as a document.
  function plain(o) {
    var out = {};
    Object.keys(o || {}).forEach(function (k) {
      if (typeof o[k] !== "function") {
        out[k] = o[k];
      }
    });
    return out;
  }

  function assign(dst, src) {
    Object.keys(src || {}).forEach(function (k) {
      dst[k] = src[k];
    });
    return dst;
  }

  global.restdb = restdb;
})(typeof window !== "undefined" ? window : this);
