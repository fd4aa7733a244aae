FROM node:24-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev
COPY tsconfig.json ./
COPY src ./src
COPY spicedb ./spicedb
EXPOSE 4000
USER node
# exec'd by `npm start`, so SIGTERM reaches the server and shutdown is graceful.
CMD ["npm", "start"]
